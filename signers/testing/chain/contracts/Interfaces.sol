// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

// The interfaces the real SmartSession module (erc7579/smartsessions) and Nexus call. The declarations
// (names, parameter types, order) must stay exactly as upstream: SmartSession checks policies with ERC-165
// `supportsInterface(type(I...).interfaceId)`, and an interface id is the XOR of the function selectors.

/// ERC-4337 v0.7 packed user operation (EntryPoint v0.7 layout).
struct PackedUserOperation {
    address sender;
    uint256 nonce;
    bytes initCode;
    bytes callData;
    bytes32 accountGasLimits;
    uint256 preVerificationGas;
    bytes32 gasFees;
    bytes paymasterAndData;
    bytes signature;
}

/// SmartSession's per-(permission, action) configuration key; a bytes32 on the wire.
type ConfigId is bytes32;

// ERC-4337 validation data: 0 = success, 1 = signature failure; bits 160..207 validUntil, 208..255 validAfter.
uint256 constant VALIDATION_SUCCESS = 0;
uint256 constant VALIDATION_FAILED = 1;

uint256 constant MODULE_TYPE_VALIDATOR = 1;
uint256 constant MODULE_TYPE_STATELESS_VALIDATOR = 7;

bytes4 constant EIP1271_SUCCESS = 0x1626ba7e;
bytes4 constant EIP1271_FAILED = 0xffffffff;

/// Packs ERC-4337 validation data the way EntryPoint v0.7 unpacks it (validUntil 0 means "no expiry").
function packValidationData(bool sigFailed, uint48 validUntil, uint48 validAfter) pure returns (uint256) {
    return (sigFailed ? 1 : 0) | (uint256(validUntil) << 160) | (uint256(validAfter) << 208);
}

interface IERC165 {
    function supportsInterface(bytes4 interfaceID) external view returns (bool);
}

interface IPolicy is IERC165 {
    event PolicySet(ConfigId id, address multiplexer, address account);

    error PolicyNotInitialized(ConfigId id, address multiplexer, address account);

    /// Called by the multiplexer (SmartSession, msg.sender) when a session is enabled; overwrites state.
    function initializeWithMultiplexer(address account, ConfigId configId, bytes calldata initData) external;
}

interface IUserOpPolicy is IPolicy {
    function checkUserOpPolicy(ConfigId id, PackedUserOperation calldata userOp) external returns (uint256);
}

interface IActionPolicy is IPolicy {
    function checkAction(ConfigId id, address account, address target, uint256 value, bytes calldata data)
        external
        returns (uint256);
}

interface I1271Policy is IPolicy {
    function check1271SignedAction(
        ConfigId id,
        address requestSender,
        address account,
        bytes32 hash,
        bytes calldata signature
    )
        external
        view
        returns (bool);
}

/// ERC-7579 module base interface.
interface IModule {
    function onInstall(bytes calldata data) external;
    function onUninstall(bytes calldata data) external;
    function isModuleType(uint256 moduleTypeId) external view returns (bool);
    function isInitialized(address smartAccount) external view returns (bool);
}

/// ERC-7579 validator (module type 1).
interface IValidator is IModule {
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external returns (uint256);
    function isValidSignatureWithSender(address sender, bytes32 hash, bytes calldata data)
        external
        view
        returns (bytes4);
}

/// Stateless session validator (module type 7) as SmartSession calls it.
interface ISessionValidator is IModule {
    function validateSignatureWithData(bytes32 hash, bytes calldata sig, bytes calldata data)
        external
        view
        returns (bool validSig);
}

/// Signature helpers shared by the validators here.
library SigLib {
    uint256 internal constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// EIP-191 personal_sign digest of a 32-byte hash.
    function toEthSignedMessageHash(bytes32 hash) internal pure returns (bytes32 digest) {
        digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash));
    }

    /// Recovers the signer of the 65-byte r||s||v signature at `index` of `sigs`; address(0) if v is not
    /// 27/28 or the signature does not recover. `requireLowS` rejects malleable (high-s) signatures.
    function recoverAt(bytes32 digest, bytes calldata sigs, uint256 index, bool requireLowS)
        internal
        pure
        returns (address)
    {
        uint256 at = index * 65;
        if (sigs.length < at + 65) return address(0);
        bytes32 r = bytes32(sigs[at:at + 32]);
        bytes32 s = bytes32(sigs[at + 32:at + 64]);
        uint8 v = uint8(sigs[at + 64]);
        if (v != 27 && v != 28) return address(0);
        if (requireLowS && uint256(s) > HALF_N) return address(0);
        return ecrecover(digest, v, r, s);
    }
}
