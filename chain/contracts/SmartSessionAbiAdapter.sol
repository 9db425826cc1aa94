// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import { PackedUserOperation } from "./Interfaces.sol";

/// @title SmartSessionAbiAdapter
/// @notice Why this exists: the only Smart Sessions bytecode in a registry package (@rhinestone/modulekit
/// 0.5.9, SMART_SESSION_DEPLOYED_BYTECODE) is an older build than the deployment at
/// 0x00000000008bDABA73cD9815d79069c247Eb4bDA (erc7579/smartsessions f5aaf86) that the Startale SDK targets.
/// Policies, session validators, the USE-mode signature, removeSession and isPermissionEnabled are the same;
/// two encodings differ. (1) the `Session` struct:
///   deployed: (address,bytes,bytes32,PolicyData[],((bytes32,string[])[],PolicyData[]),ActionData[],bool)
///             enableSessions selector 0x21712407; ERC7739Data.allowedERC7739Content is ERC7739Context[];
///             trailing bool permitERC4337Paymaster
///   modulekit: (address,bytes,bytes32,PolicyData[],(string[],PolicyData[]),ActionData[])  selector 0xf55af6d1
/// (2) the USE-mode UserOperation signature: deployed `0x00 || permissionId || sig`; modulekit's build expects
/// `0x00 || permissionId || FastLZ(abi.encode(sig))` (smartsessions dropped the compression in Nov 2024).
/// This adapter sits at the canonical address and DELEGATECALLs every call to the modulekit build (placed at
/// IMPLEMENTATION), so storage, msg.sender (the account) and address(this) are those of the canonical module.
/// enableSessions and validateUserOp arrive in the deployed encoding and are re-encoded for the older build. Limits, documented in
/// chain/README.md: allowedERC7739Content must be empty (the Startale default), and the older build does not
/// enforce permitERC4337Paymaster (paymaster UserOperations are never refused for that reason here).
/// No constructor, no immutables, no storage of its own: its runtime code is placed with anvil_setCode.
contract SmartSessionAbiAdapter {
    struct PolicyData {
        address policy;
        bytes initData;
    }

    struct ActionData {
        bytes4 actionTargetSelector;
        address actionTarget;
        PolicyData[] actionPolicies;
    }

    struct ERC7739Context {
        bytes32 appDomainSeparator;
        string[] contentNames;
    }

    struct ERC7739Data {
        ERC7739Context[] allowedERC7739Content;
        PolicyData[] erc1271Policies;
    }

    struct Session {
        address sessionValidator;
        bytes sessionValidatorInitData;
        bytes32 salt;
        PolicyData[] userOpPolicies;
        ERC7739Data erc7739Policies;
        ActionData[] actions;
        bool permitERC4337Paymaster;
    }

    struct LegacyERC7739Data {
        string[] allowedERC7739Content;
        PolicyData[] erc1271Policies;
    }

    struct LegacySession {
        address sessionValidator;
        bytes sessionValidatorInitData;
        bytes32 salt;
        PolicyData[] userOpPolicies;
        LegacyERC7739Data erc7739Policies;
        ActionData[] actions;
    }

    /// Where chain/stack.py places modulekit's SMART_SESSION_DEPLOYED_BYTECODE.
    address public constant IMPLEMENTATION = 0x000000000000000000000000000000005e551011;
    bytes4 private constant LEGACY_ENABLE_SESSIONS = 0xf55af6d1;

    error ERC7739ContentUnsupportedOnLocalChain();

    /// enableSessions(Session[]) in the deployed module's ABI (selector 0x21712407).
    function enableSessions(Session[] calldata sessions) external returns (bytes32[] memory) {
        LegacySession[] memory legacy = new LegacySession[](sessions.length);
        for (uint256 i = 0; i < sessions.length; i++) {
            Session calldata s = sessions[i];
            if (s.erc7739Policies.allowedERC7739Content.length != 0) revert ERC7739ContentUnsupportedOnLocalChain();
            legacy[i] = LegacySession({
                sessionValidator: s.sessionValidator,
                sessionValidatorInitData: s.sessionValidatorInitData,
                salt: s.salt,
                userOpPolicies: s.userOpPolicies,
                erc7739Policies: LegacyERC7739Data(new string[](0), s.erc7739Policies.erc1271Policies),
                actions: s.actions
            });
        }
        bytes memory result = _delegate(abi.encodeWithSelector(LEGACY_ENABLE_SESSIONS, legacy));
        return abi.decode(result, (bytes32[]));
    }

    /// ERC-7579 validateUserOp (selector 0x97003203): a USE-mode signature is re-encoded as the older build
    /// reads it; ENABLE modes pass through unchanged (they are not part of the Startale flow).
    function validateUserOp(PackedUserOperation calldata op, bytes32 userOpHash) external returns (uint256) {
        PackedUserOperation memory legacy = op;
        bytes calldata sig = op.signature;
        if (sig.length >= 33 && sig[0] == 0x00) {
            legacy.signature = abi.encodePacked(sig[0:33], _fastLzLiterals(abi.encode(sig[33:])));
        }
        return abi.decode(_delegate(abi.encodeWithSelector(this.validateUserOp.selector, legacy, userOpHash)), (uint256));
    }

    /// A valid FastLZ (level 1) stream made only of literal runs: control byte (n - 1), then n <= 32 bytes.
    /// No compression is needed: Solady's flzDecompress, used by the older build, reads it back exactly.
    function _fastLzLiterals(bytes memory data) private pure returns (bytes memory out) {
        for (uint256 i = 0; i < data.length; i += 32) {
            uint256 n = data.length - i < 32 ? data.length - i : 32;
            bytes memory run = new bytes(n);
            for (uint256 j = 0; j < n; j++) {
                run[j] = data[i + j];
            }
            out = abi.encodePacked(out, uint8(n - 1), run);
        }
    }

    fallback() external {
        bytes memory result = _delegate(msg.data);
        assembly {
            return(add(result, 32), mload(result))
        }
    }

    function _delegate(bytes memory data) private returns (bytes memory result) {
        bool ok;
        (ok, result) = IMPLEMENTATION.delegatecall(data);
        if (!ok) {
            assembly {
                revert(add(result, 32), mload(result))
            }
        }
    }
}
