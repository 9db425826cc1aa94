// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import "./Interfaces.sol";

/// @title OwnableValidator (session-validator subset)
/// @notice Stand-in for the Rhinestone OwnableValidator deployed at 0x0000000000E9E6E96Bcaa3c113187CdB7E38AED9
/// (core-modules commit 43b6feb), which no registry package ships. Only its stateless side is implemented: the
/// `validateSignatureWithData` that SmartSession calls for every session UserOperation, with the same rules:
///  - `data` = abi.encode(uint256 threshold, address[] owners); owners strictly ascending (sorted, unique) and
///    threshold != 0, otherwise the signature is invalid;
///  - `sig` = threshold concatenated 65-byte r||s||v signatures over toEthSignedMessageHash(hash), i.e. EIP-191
///    personal_sign of the raw 32-byte userOpHash SmartSession passes in;
///  - v must be 27 or 28. (Upstream reads v = 0 as a contract signature and v > 30 as "eth-sign again";
///    neither is part of the Startale flow, so here they are simply invalid);
///  - at least `threshold` distinct owners must have signed. High-s is accepted, like upstream's ecrecover.
/// It has no constructor and no immutables, so its runtime code can be placed at the canonical address.
contract OwnableValidator is ISessionValidator {
    error StatelessOnly();

    function validateSignatureWithData(bytes32 hash, bytes calldata sig, bytes calldata data)
        external
        pure
        returns (bool)
    {
        (uint256 threshold, address[] memory owners) = abi.decode(data, (uint256, address[]));
        if (threshold == 0 || owners.length < threshold) return false;
        for (uint256 i = 1; i < owners.length; i++) {
            if (owners[i - 1] >= owners[i]) return false; // not sorted and unique
        }
        bytes32 digest = SigLib.toEthSignedMessageHash(hash);
        address[] memory seen = new address[](threshold);
        uint256 valid;
        for (uint256 i = 0; i < threshold; i++) {
            address signer = SigLib.recoverAt(digest, sig, i, false);
            if (signer == address(0) || !_contains(owners, signer) || _contains(seen, signer)) continue;
            seen[valid++] = signer;
        }
        return valid >= threshold;
    }

    function _contains(address[] memory list, address item) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == item) return true;
        }
        return false;
    }

    /// Only the stateless role (module type 7) is offered: installing it as an account validator is refused.
    function isModuleType(uint256 moduleTypeId) external pure returns (bool) {
        return moduleTypeId == MODULE_TYPE_STATELESS_VALIDATOR;
    }

    function onInstall(bytes calldata) external pure {
        revert StatelessOnly();
    }

    function onUninstall(bytes calldata) external pure {
        revert StatelessOnly();
    }

    function isInitialized(address) external pure returns (bool) {
        return false;
    }

    function name() external pure returns (string memory) {
        return "OwnableValidator";
    }

    function version() external pure returns (string memory) {
        return "1.0.0";
    }
}
