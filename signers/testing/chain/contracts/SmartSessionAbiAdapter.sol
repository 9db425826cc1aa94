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
/// (3) ENABLE / UNSAFE_ENABLE signatures (`mode || FastLZ(abi.encode(EnableSession, sig))`): the older build hashes
/// the enable data with other EIP-712 types than the deployed module (whose MultiChainSession / SignedSession
/// hashes the SDK signs), so the adapter does the deployed module's enable step itself, in its order: read the
/// permission's nonce and advance it (the older build's getNonce / revokeEnableSignature: the same counter),
/// check the chain id and that the signed digest is this Session's (getSessionDigest), ask the account whether
/// the owner signed the multichain digest (ERC-1271 isValidSignature with `validator || ownerSig`), enable the
/// Session through the older build's enableSessions, then validate the op in USE mode. getSessionDigest answers
/// in the deployed ABI and hashing.
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

    struct ChainDigest {
        uint64 chainId;
        bytes32 sessionDigest;
    }

    struct EnableSession {
        uint8 chainDigestIndex;
        ChainDigest[] hashesAndChainIds;
        Session sessionToEnable;
        bytes permissionEnableSig;
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
    bytes4 private constant GET_NONCE = 0x795f9269; // getNonce(bytes32,address), the same in both builds
    bytes4 private constant REVOKE_ENABLE_SIGNATURE = 0xf9b80369; // revokeEnableSignature(bytes32): nonce++
    bytes4 private constant EIP1271_MAGIC = 0x1626ba7e;
    uint8 private constant MODE_USE = 0;
    uint8 private constant MODE_ENABLE = 1;
    uint8 private constant MODE_UNSAFE_ENABLE = 2;
    address private constant FALLBACK_TARGET = address(1);

    // The deployed module's EIP-712 typehashes (erc7579/smartsessions HashLib): keccak256 of the full type strings.
    bytes32 private constant POLICY_DATA_TYPEHASH = keccak256("PolicyData(address policy,bytes initData)");
    bytes32 private constant ACTION_DATA_TYPEHASH = keccak256(
        "ActionData(bytes4 actionTargetSelector,address actionTarget,PolicyData[] actionPolicies)"
        "PolicyData(address policy,bytes initData)"
    );
    bytes32 private constant ERC7739_CONTEXT_TYPEHASH =
        keccak256("ERC7739Context(bytes32 appDomainSeparator,string[] contentName)");
    bytes32 private constant ERC7739_DATA_TYPEHASH = keccak256(
        "ERC7739Data(ERC7739Context[] allowedERC7739Content,PolicyData[] erc1271Policies)"
        "ERC7739Context(bytes32 appDomainSeparator,string[] contentName)PolicyData(address policy,bytes initData)"
    );
    bytes32 private constant SIGNED_PERMISSIONS_TYPEHASH = 0x871289c05e426554eb0f843c9aa542f9c2bc4eba7742ada6a5c014d3568674d4;
    bytes32 private constant SESSION_TYPEHASH = 0xd44896e3cb83d70abc949a38dd6f9f75e675dc329dfe958617f066f79ff88f05;
    bytes32 private constant CHAIN_SESSION_TYPEHASH = 0x1ea7e4bc398fa0ccd68d92b5d8931a3fd93eebe1cf0391b4ba28935801af7c80;
    bytes32 private constant MULTICHAIN_SESSION_TYPEHASH =
        0x0c9d02fb89a1da34d66ea2088dc9ee6a58efee71cef6f1bb849ed74fc6003d98;
    // EIP712Domain(string name,string version) with "SmartSession", "1"
    bytes32 private constant MULTICHAIN_DOMAIN_SEPARATOR =
        0x057501e891776d1482927e5f094ae44049a4d893ba2d7b334dd7db8d38d3a0e1;

    error ERC7739ContentUnsupportedOnLocalChain();
    // the deployed module's errors, same names and arguments
    error InvalidUserOpSender(address sender);
    error ChainIdMismatch(uint64 providedChainId);
    error HashMismatch(bytes32 providedHash, bytes32 computedHash);
    error InvalidEnableSignature(address account, bytes32 hash);
    error UnsupportedSmartSessionMode(uint8 mode);
    // ours: the compressed enable data is not a FastLZ stream
    error MalformedEnableData();

    /// enableSessions(Session[]) in the deployed module's ABI (selector 0x21712407).
    function enableSessions(Session[] calldata sessions) external returns (bytes32[] memory) {
        LegacySession[] memory legacy = new LegacySession[](sessions.length);
        for (uint256 i = 0; i < sessions.length; i++) {
            legacy[i] = _toLegacy(sessions[i]);
        }
        bytes memory result = _delegate(abi.encodeWithSelector(LEGACY_ENABLE_SESSIONS, legacy));
        return abi.decode(result, (bytes32[]));
    }

    function _toLegacy(Session memory s) private pure returns (LegacySession memory) {
        if (s.erc7739Policies.allowedERC7739Content.length != 0) revert ERC7739ContentUnsupportedOnLocalChain();
        return LegacySession({
            sessionValidator: s.sessionValidator,
            sessionValidatorInitData: s.sessionValidatorInitData,
            salt: s.salt,
            userOpPolicies: s.userOpPolicies,
            erc7739Policies: LegacyERC7739Data(new string[](0), s.erc7739Policies.erc1271Policies),
            actions: s.actions
        });
    }

    /// ERC-7579 validateUserOp (selector 0x97003203): a USE-mode signature is re-encoded as the older build
    /// reads it; an ENABLE-mode one is enabled here (see (3) above), then validated as USE.
    function validateUserOp(PackedUserOperation calldata op, bytes32 userOpHash) external returns (uint256) {
        PackedUserOperation memory legacy = op;
        bytes calldata sig = op.signature;
        uint8 mode = sig.length == 0 ? type(uint8).max : uint8(sig[0]);
        if (mode == MODE_USE && sig.length >= 33) {
            legacy.signature = abi.encodePacked(sig[0:33], _fastLzLiterals(abi.encode(sig[33:])));
        } else if (mode == MODE_ENABLE || mode == MODE_UNSAFE_ENABLE) {
            if (op.sender != msg.sender) revert InvalidUserOpSender(op.sender);
            (EnableSession memory enableData, bytes memory sessionSig) =
                abi.decode(_flzDecompress(sig[1:]), (EnableSession, bytes));
            bytes32 permissionId = _enable(enableData, op.sender, mode);
            legacy.signature = abi.encodePacked(bytes1(0x00), permissionId, _fastLzLiterals(abi.encode(sessionSig)));
        } else if (mode > MODE_UNSAFE_ENABLE) {
            revert UnsupportedSmartSessionMode(mode);
        }
        return abi.decode(_delegate(abi.encodeWithSelector(this.validateUserOp.selector, legacy, userOpHash)), (uint256));
    }

    /// The deployed module's getSessionDigest (HashLib.sessionDigest): what the owner's enable signature covers
    /// for `account` at the permission's current nonce. Not `view` only because it reads the nonce through
    /// DELEGATECALL; it writes nothing.
    function getSessionDigest(bytes32 permissionId, address account, Session memory data, uint8 mode)
        external
        returns (bytes32)
    {
        return _sessionDigest(data, account, mode, _nonce(permissionId, account));
    }

    function _nonce(bytes32 permissionId, address account) private returns (uint256) {
        return abi.decode(_delegate(abi.encodeWithSelector(GET_NONCE, permissionId, account)), (uint256));
    }

    /// SmartSession._enablePolicies of the deployed module, with the older build's storage.
    function _enable(EnableSession memory e, address account, uint8 mode) private returns (bytes32 permissionId) {
        Session memory s = e.sessionToEnable;
        permissionId = keccak256(abi.encode(s.sessionValidator, s.sessionValidatorInitData, s.salt));
        uint256 nonce = _nonce(permissionId, account);
        _delegate(abi.encodeWithSelector(REVOKE_ENABLE_SIGNATURE, permissionId)); // msg.sender is the account
        if (e.chainDigestIndex >= e.hashesAndChainIds.length) revert MalformedEnableData();
        ChainDigest memory signed = e.hashesAndChainIds[e.chainDigestIndex];
        if (signed.chainId != block.chainid) revert ChainIdMismatch(signed.chainId);
        bytes32 computed = _sessionDigest(s, account, mode, nonce);
        if (signed.sessionDigest != computed) revert HashMismatch(signed.sessionDigest, computed);
        bytes32 hash = _multichainDigest(e.hashesAndChainIds);
        (bool ok, bytes memory answer) =
            account.staticcall(abi.encodeWithSelector(EIP1271_MAGIC, hash, e.permissionEnableSig));
        if (!ok || answer.length < 32 || bytes4(abi.decode(answer, (bytes32))) != EIP1271_MAGIC) {
            revert InvalidEnableSignature(account, hash);
        }
        LegacySession[] memory legacy = new LegacySession[](1);
        legacy[0] = _toLegacy(s);
        _delegate(abi.encodeWithSelector(LEGACY_ENABLE_SESSIONS, legacy));
    }

    // -- the deployed module's EIP-712 hashing (HashLib), written out -----------------------------------------
    function _sessionDigest(Session memory s, address account, uint8 mode, uint256 nonce)
        private
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                SESSION_TYPEHASH,
                account,
                _hashPermissions(s, mode == MODE_UNSAFE_ENABLE),
                s.sessionValidator,
                keccak256(s.sessionValidatorInitData),
                s.salt,
                address(this),
                nonce
            )
        );
    }

    function _hashPermissions(Session memory s, bool ignoreSecurityAttestations) private pure returns (bytes32) {
        (bool permitGeneric, bool permitAdmin, bytes32 actionsHash) = _hashActions(s.actions);
        return keccak256(
            abi.encode(
                SIGNED_PERMISSIONS_TYPEHASH,
                permitGeneric,
                permitAdmin,
                ignoreSecurityAttestations,
                s.permitERC4337Paymaster,
                _hashPolicies(s.userOpPolicies),
                _hashErc7739(s.erc7739Policies),
                actionsHash
            )
        );
    }

    function _hashPolicies(PolicyData[] memory policies) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](policies.length);
        for (uint256 i = 0; i < policies.length; i++) {
            hashes[i] = keccak256(abi.encode(POLICY_DATA_TYPEHASH, policies[i].policy, keccak256(policies[i].initData)));
        }
        return keccak256(abi.encodePacked(hashes));
    }

    /// Also the fallback flags, as the deployed module derives them: an action on address(1) with selector
    /// 0x00000001 permits the generic fallback, with 0x00000002 the admin fallback.
    function _hashActions(ActionData[] memory actions)
        private
        pure
        returns (bool permitGeneric, bool permitAdmin, bytes32 actionsHash)
    {
        bytes32[] memory hashes = new bytes32[](actions.length);
        for (uint256 i = 0; i < actions.length; i++) {
            ActionData memory a = actions[i];
            if (a.actionTarget == FALLBACK_TARGET) {
                permitGeneric = permitGeneric || a.actionTargetSelector == bytes4(0x00000001);
                permitAdmin = permitAdmin || a.actionTargetSelector == bytes4(0x00000002);
            }
            hashes[i] = keccak256(
                abi.encode(ACTION_DATA_TYPEHASH, a.actionTargetSelector, a.actionTarget, _hashPolicies(a.actionPolicies))
            );
        }
        actionsHash = keccak256(abi.encodePacked(hashes));
    }

    function _hashErc7739(ERC7739Data memory data) private pure returns (bytes32) {
        bytes32[] memory contexts = new bytes32[](data.allowedERC7739Content.length);
        for (uint256 i = 0; i < contexts.length; i++) {
            ERC7739Context memory c = data.allowedERC7739Content[i];
            bytes32[] memory names = new bytes32[](c.contentNames.length);
            for (uint256 j = 0; j < names.length; j++) {
                names[j] = keccak256(bytes(c.contentNames[j]));
            }
            contexts[i] =
                keccak256(abi.encode(ERC7739_CONTEXT_TYPEHASH, c.appDomainSeparator, keccak256(abi.encodePacked(names))));
        }
        return keccak256(
            abi.encode(ERC7739_DATA_TYPEHASH, keccak256(abi.encodePacked(contexts)), _hashPolicies(data.erc1271Policies))
        );
    }

    function _multichainDigest(ChainDigest[] memory digests) private pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](digests.length);
        for (uint256 i = 0; i < digests.length; i++) {
            hashes[i] = keccak256(abi.encode(CHAIN_SESSION_TYPEHASH, digests[i].chainId, digests[i].sessionDigest));
        }
        bytes32 structHash = keccak256(abi.encode(MULTICHAIN_SESSION_TYPEHASH, keccak256(abi.encodePacked(hashes))));
        return keccak256(abi.encodePacked(hex"1901", MULTICHAIN_DOMAIN_SEPARATOR, structHash));
    }

    /// FastLZ (level 1) decompression, as Solady's LibZip.flzDecompress reads it. Instruction byte c: c >> 5 == 0
    /// is a run of (c & 31) + 1 literal bytes; 1..6 a match of (c >> 5) + 2 bytes; 7 a match of next byte + 9
    /// bytes; a match's distance back is ((c & 31) << 8 | last byte) + 1. Two passes: measure, then write.
    function _flzDecompress(bytes calldata src) private pure returns (bytes memory out) {
        out = new bytes(_flzWalk(src, out, false));
        _flzWalk(src, out, true);
    }

    function _flzWalk(bytes calldata src, bytes memory out, bool write) private pure returns (uint256 o) {
        uint256 i = 0;
        while (i < src.length) {
            uint256 c = uint8(src[i]);
            uint256 kind = c >> 5;
            if (kind == 0) {
                uint256 run = (c & 31) + 1;
                if (i + 1 + run > src.length) revert MalformedEnableData();
                if (write) {
                    assembly ("memory-safe") {
                        calldatacopy(add(add(out, 32), o), add(src.offset, add(i, 1)), run)
                    }
                }
                o += run;
                i += 1 + run;
                continue;
            }
            uint256 length;
            uint256 low;
            if (kind < 7) {
                if (i + 2 > src.length) revert MalformedEnableData();
                length = kind + 2;
                low = uint8(src[i + 1]);
                i += 2;
            } else {
                if (i + 3 > src.length) revert MalformedEnableData();
                length = uint256(uint8(src[i + 1])) + 9;
                low = uint8(src[i + 2]);
                i += 3;
            }
            uint256 distance = ((c & 31) << 8 | low) + 1;
            if (distance > o) revert MalformedEnableData();
            if (write) {
                // A match repeats the `distance` bytes before it. Copy them, then the doubled pattern, and so on:
                // each mcopy reads only bytes already written and a whole number of periods (long zero runs of
                // ABI data are distance-1 matches: byte by byte would cost ~100 gas a byte).
                assembly ("memory-safe") {
                    let at := add(add(out, 32), o)
                    let from := sub(at, distance)
                    for { let copied := 0 } lt(copied, length) {} {
                        let n := add(copied, distance)
                        if gt(n, sub(length, copied)) { n := sub(length, copied) }
                        mcopy(add(at, copied), from, n)
                        copied := add(copied, n)
                    }
                }
            }
            o += length;
        }
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
