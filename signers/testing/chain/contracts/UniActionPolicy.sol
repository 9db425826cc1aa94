// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import "./Interfaces.sol";

/// @title UniActionPolicy
/// @notice Per-call value cap plus up to 16 rules on 32-byte calldata arguments. Same initData and rules as
/// smartsessions' UniActionPolicy (canonical 0x0000000000714Cf48FcF88A0bFBa70d313415032):
///  initData = abi.encode(ActionConfig), a fully static 3136-byte tuple:
///    ActionConfig = (uint256 valueLimitPerUse, (uint256 length, ParamRule[16] rules))
///    ParamRule    = (uint8 condition, uint64 offset, bool isLimited, bytes32 ref, (uint256 limit, uint256 used))
///  - the argument is data[4 + offset : 4 + offset + 32] (offset in bytes after the selector);
///  - conditions: 0 EQ, 1 GT, 2 LT, 3 GTE, 4 LTE, 5 NEQ, 6 IN_RANGE (ref = low bound << 128 | high bound);
///  - isLimited: the argument's running sum must stay <= limit;
///  - value > valueLimitPerUse reverts ValueLimitExceeded; a config with 0 rules reverts PolicyNotInitialized.
contract UniActionPolicy is IActionPolicy {
    struct LimitUsage {
        uint256 limit;
        uint256 used;
    }

    struct ParamRule {
        uint8 condition;
        uint64 offset;
        bool isLimited;
        bytes32 ref;
        LimitUsage usage;
    }

    struct ParamRules {
        uint256 length;
        ParamRule[16] rules;
    }

    struct ActionConfig {
        uint256 valueLimitPerUse;
        ParamRules paramRules;
    }

    error ValueLimitExceeded(ConfigId id, uint256 value, uint256 limit);

    mapping(ConfigId id => mapping(address multiplexer => mapping(address account => ActionConfig))) public
        actionConfigs;

    function initializeWithMultiplexer(address account, ConfigId configId, bytes calldata initData) external {
        ActionConfig memory config = abi.decode(initData, (ActionConfig));
        ActionConfig storage stored = actionConfigs[configId][msg.sender][account];
        stored.valueLimitPerUse = config.valueLimitPerUse;
        stored.paramRules.length = config.paramRules.length;
        for (uint256 i = 0; i < config.paramRules.length && i < 16; i++) {
            stored.paramRules.rules[i] = config.paramRules.rules[i];
        }
        emit PolicySet(configId, msg.sender, account);
    }

    function checkAction(ConfigId id, address account, address, uint256 value, bytes calldata data)
        external
        returns (uint256)
    {
        ActionConfig storage config = actionConfigs[id][msg.sender][account];
        uint256 length = config.paramRules.length;
        if (length == 0) revert PolicyNotInitialized(id, msg.sender, account);
        if (value > config.valueLimitPerUse) revert ValueLimitExceeded(id, value, config.valueLimitPerUse);
        for (uint256 i = 0; i < length; i++) {
            if (!_check(config.paramRules.rules[i], data)) return VALIDATION_FAILED;
        }
        return VALIDATION_SUCCESS;
    }

    function _check(ParamRule storage rule, bytes calldata data) private returns (bool) {
        uint256 start = 4 + uint256(rule.offset);
        bytes32 param = bytes32(data[start:start + 32]);
        uint8 c = rule.condition;
        bytes32 ref = rule.ref;
        if (c == 0 && param != ref) return false;
        if (c == 1 && param <= ref) return false;
        if (c == 2 && param >= ref) return false;
        if (c == 3 && param < ref) return false;
        if (c == 4 && param > ref) return false;
        if (c == 5 && param == ref) return false;
        if (c == 6 && (uint256(param) < uint256(ref) >> 128 || uint256(param) > uint256(uint128(uint256(ref))))) {
            return false;
        }
        if (rule.isLimited) {
            if (rule.usage.used + uint256(param) > rule.usage.limit) return false;
            rule.usage.used += uint256(param);
        }
        return true;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC165).interfaceId || id == type(IPolicy).interfaceId
            || id == type(IActionPolicy).interfaceId;
    }
}
