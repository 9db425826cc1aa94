// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import "./Interfaces.sol";

/// @title K1Validator
/// @notice Minimal ERC-7579 ECDSA (secp256k1) owner validator for Nexus accounts on the local chain: the role the
/// Startale account's built-in ECDSAValidator plays (Nexus has no default validator, and no registry package
/// ships a K1 validator's bytecode). Selected through the nonce key (validator address in bytes 4..23).
///  - onInstall(data): data[0:20] is the owner address (packed, like Nexus's K1Validator); extra bytes ignored.
///  - validateUserOp: userOp.signature is a 65-byte r||s||v, v = 27/28, low-s, by the owner over either
///    EIP-191 personal_sign(userOpHash) (what the SDK sends) or the raw userOpHash.
///  - isValidSignatureWithSender: the same rule over `hash` (no ERC-7739 wrapping).
/// Storage is keyed by account (ERC-4337 associated storage).
contract K1Validator is IValidator {
    error NoOwnerProvided();
    error AlreadyInitialized(address account);

    mapping(address account => address owner) public owners;

    event OwnerSet(address indexed account, address indexed owner);

    function onInstall(bytes calldata data) external {
        if (data.length < 20 || address(bytes20(data[0:20])) == address(0)) revert NoOwnerProvided();
        if (owners[msg.sender] != address(0)) revert AlreadyInitialized(msg.sender);
        owners[msg.sender] = address(bytes20(data[0:20]));
        emit OwnerSet(msg.sender, owners[msg.sender]);
    }

    function onUninstall(bytes calldata) external {
        delete owners[msg.sender];
        emit OwnerSet(msg.sender, address(0));
    }

    /// The account calls this when its owner changes hands (owner rotation stays an account-owner operation).
    function transferOwnership(address newOwner) external {
        if (newOwner == address(0)) revert NoOwnerProvided();
        owners[msg.sender] = newOwner;
        emit OwnerSet(msg.sender, newOwner);
    }

    function isModuleType(uint256 moduleTypeId) external pure returns (bool) {
        return moduleTypeId == MODULE_TYPE_VALIDATOR;
    }

    function isInitialized(address smartAccount) external view returns (bool) {
        return owners[smartAccount] != address(0);
    }

    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external view returns (uint256) {
        return _isOwnerSignature(owners[userOp.sender], userOpHash, userOp.signature)
            ? VALIDATION_SUCCESS
            : VALIDATION_FAILED;
    }

    function isValidSignatureWithSender(address, bytes32 hash, bytes calldata data) external view returns (bytes4) {
        return _isOwnerSignature(owners[msg.sender], hash, data) ? EIP1271_SUCCESS : EIP1271_FAILED;
    }

    function _isOwnerSignature(address owner, bytes32 hash, bytes calldata sig) private pure returns (bool) {
        if (owner == address(0) || sig.length != 65) return false;
        if (SigLib.recoverAt(SigLib.toEthSignedMessageHash(hash), sig, 0, true) == owner) return true;
        return SigLib.recoverAt(hash, sig, 0, true) == owner;
    }

    function name() external pure returns (string memory) {
        return "K1Validator";
    }

    function version() external pure returns (string memory) {
        return "1.0.0";
    }
}
