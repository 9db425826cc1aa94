// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import "./Interfaces.sol";

/// @title UsageLimitPolicy
/// @notice Allows at most `limit` uses (userOps or actions). Same rules as smartsessions' UsageLimitPolicy
/// (canonical 0x00000000001d4479FA2A947026204d0283ceDe4B): initData[0:16] = uint128 limit (encodePacked),
/// limit 0 refused; each check counts one use and fails once the limit is passed; re-initialising resets.
contract UsageLimitPolicy is IUserOpPolicy, IActionPolicy {
    struct Usage {
        uint128 limit;
        uint128 used;
    }

    mapping(ConfigId id => mapping(address multiplexer => mapping(address account => Usage))) public usages;

    function initializeWithMultiplexer(address account, ConfigId configId, bytes calldata initData) external {
        uint128 limit = uint128(bytes16(initData[0:16]));
        if (limit == 0) revert PolicyNotInitialized(configId, msg.sender, account);
        usages[configId][msg.sender][account] = Usage(limit, 0);
        emit PolicySet(configId, msg.sender, account);
    }

    function checkUserOpPolicy(ConfigId id, PackedUserOperation calldata op) external returns (uint256) {
        return _use(id, op.sender);
    }

    function checkAction(ConfigId id, address account, address, uint256, bytes calldata) external returns (uint256) {
        return _use(id, account);
    }

    function _use(ConfigId id, address account) private returns (uint256) {
        Usage storage u = usages[id][msg.sender][account];
        if (u.used + 1 > u.limit) return VALIDATION_FAILED;
        u.used += 1;
        return VALIDATION_SUCCESS;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC165).interfaceId || id == type(IPolicy).interfaceId
            || id == type(IUserOpPolicy).interfaceId || id == type(IActionPolicy).interfaceId;
    }
}
