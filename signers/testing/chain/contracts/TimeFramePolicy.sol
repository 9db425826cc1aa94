// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import "./Interfaces.sol";

/// @title TimeFramePolicy
/// @notice Limits a session or an action to [validAfter, validUntil). Same rules as smartsessions'
/// TimeFramePolicy (canonical 0x0000000000D30f611fA3bf652ac6879428586930):
///  - initData[0:12] = uint48 validUntil || uint48 validAfter (encodePacked); validUntil 0 = no expiry;
///    validAfter > validUntil (validUntil != 0) is refused;
///  - a check against a config whose two fields are both 0 reverts PolicyNotInitialized;
///  - userOp/action checks do not compare timestamps themselves: they return ERC-4337 validation data with
///    validUntil/validAfter packed in, so the EntryPoint refuses an expired session (AA22).
contract TimeFramePolicy is IUserOpPolicy, IActionPolicy, I1271Policy {
    struct TimeFrame {
        uint48 validUntil;
        uint48 validAfter;
    }

    mapping(ConfigId id => mapping(address multiplexer => mapping(address account => TimeFrame))) public timeFrames;

    function initializeWithMultiplexer(address account, ConfigId configId, bytes calldata initData) external {
        uint48 validUntil = uint48(bytes6(initData[0:6]));
        uint48 validAfter = uint48(bytes6(initData[6:12]));
        if (validUntil != 0 && validAfter > validUntil) revert PolicyNotInitialized(configId, msg.sender, account);
        timeFrames[configId][msg.sender][account] = TimeFrame(validUntil, validAfter);
        emit PolicySet(configId, msg.sender, account);
    }

    function checkUserOpPolicy(ConfigId id, PackedUserOperation calldata op) external view returns (uint256) {
        return _validationData(id, op.sender);
    }

    function checkAction(ConfigId id, address account, address, uint256, bytes calldata)
        external
        view
        returns (uint256)
    {
        return _validationData(id, account);
    }

    function check1271SignedAction(ConfigId id, address, address account, bytes32, bytes calldata)
        external
        view
        returns (bool)
    {
        TimeFrame memory tf = _frame(id, account);
        return (tf.validUntil == 0 || block.timestamp < tf.validUntil) && block.timestamp >= tf.validAfter;
    }

    function _validationData(ConfigId id, address account) private view returns (uint256) {
        TimeFrame memory tf = _frame(id, account);
        return packValidationData(false, tf.validUntil, tf.validAfter);
    }

    function _frame(ConfigId id, address account) private view returns (TimeFrame memory tf) {
        tf = timeFrames[id][msg.sender][account];
        if (tf.validUntil == 0 && tf.validAfter == 0) revert PolicyNotInitialized(id, msg.sender, account);
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC165).interfaceId || id == type(IPolicy).interfaceId
            || id == type(IUserOpPolicy).interfaceId || id == type(IActionPolicy).interfaceId
            || id == type(I1271Policy).interfaceId;
    }
}
