// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import "./Interfaces.sol";

/// @title ERC20SpendingLimitPolicy
/// @notice Caps the ERC-20 amounts a session may move, per token. Same rules as smartsessions'
/// ERC20SpendingLimitPolicy (erc7579/smartsessions f5aaf86, canonical 0x000000000033212e272655d8a22402db819477a6),
/// an action policy only:
/// - initData = abi.encode(address[] tokens, uint256[] limits), same lengths, no zero token, no zero limit;
///   re-initialising clears every token of the previous config (limit, spent, approved) first.
/// - checkAction: the action's target is the token. `transfer(to, amount)` and `transferFrom(from, to, amount)`
///   add `amount` to what was spent (transferFrom *to the account* spends nothing); `approve(spender, amount)`
///   and `increaseAllowance(spender, amount)` add it to what was approved. The call fails once
///   spent + approved would exceed the token's limit (nothing is recorded then), as does any native value,
///   any other selector, and any amount on a token the config does not name (its limit is 0).
/// State is per (configId, multiplexer = msg.sender, token, account), the account last, so validation only
/// touches storage associated with the account (ERC-7562). No constructor, no immutables: the stack places
/// the runtime code at the canonical address with anvil_setCode.
contract ERC20SpendingLimitPolicy is IActionPolicy {
    struct TokenPolicyData {
        uint256 alreadySpent;
        uint256 approvedAmount;
        uint256 spendingLimit; // 0: token not configured
    }

    event TokenSpent(
        ConfigId id, address multiplexer, address token, address account, uint256 amount, uint256 remaining
    );

    error InvalidTokenAddress(address token);
    error InvalidLimit(uint256 limit);
    error InvalidInitDataLength();

    bytes4 private constant TRANSFER = 0xa9059cbb; // transfer(address,uint256)
    bytes4 private constant TRANSFER_FROM = 0x23b872dd; // transferFrom(address,address,uint256)
    bytes4 private constant APPROVE = 0x095ea7b3; // approve(address,uint256)
    bytes4 private constant INCREASE_ALLOWANCE = 0x39509351; // increaseAllowance(address,uint256)

    mapping(ConfigId id => mapping(address multiplexer => mapping(address token => mapping(address account =>
        TokenPolicyData)))) internal policyData;
    /// The tokens the current config names, so re-initialising can clear them.
    mapping(ConfigId id => mapping(address multiplexer => mapping(address account => address[]))) internal tokensOf;

    function initializeWithMultiplexer(address account, ConfigId configId, bytes calldata initData) external {
        (address[] memory tokens, uint256[] memory limits) = abi.decode(initData, (address[], uint256[]));
        if (tokens.length != limits.length) revert InvalidInitDataLength();
        address[] storage enabled = tokensOf[configId][msg.sender][account];
        for (uint256 i = 0; i < enabled.length; i++) {
            delete policyData[configId][msg.sender][enabled[i]][account];
        }
        delete tokensOf[configId][msg.sender][account];
        for (uint256 i = 0; i < tokens.length; i++) {
            if (tokens[i] == address(0)) revert InvalidTokenAddress(tokens[i]);
            if (limits[i] == 0) revert InvalidLimit(limits[i]);
            policyData[configId][msg.sender][tokens[i]][account].spendingLimit = limits[i];
            enabled.push(tokens[i]);
        }
        emit PolicySet(configId, msg.sender, account);
    }

    function checkAction(ConfigId id, address account, address target, uint256 value, bytes calldata callData)
        external
        returns (uint256)
    {
        if (target == address(0)) revert InvalidTokenAddress(target);
        if (value != 0 || callData.length < 4) return VALIDATION_FAILED;
        bytes4 selector = bytes4(callData[0:4]);
        uint256 amount;
        bool approval;
        if (selector == TRANSFER) {
            (, amount) = abi.decode(callData[4:], (address, uint256));
        } else if (selector == TRANSFER_FROM) {
            address to;
            (, to, amount) = abi.decode(callData[4:], (address, address, uint256));
            if (to == account) amount = 0; // tokens coming in spend nothing
        } else if (selector == APPROVE || selector == INCREASE_ALLOWANCE) {
            (, amount) = abi.decode(callData[4:], (address, uint256));
            approval = true;
        } else {
            return VALIDATION_FAILED;
        }

        TokenPolicyData storage data = policyData[id][msg.sender][target][account];
        uint256 spent = data.alreadySpent + (approval ? 0 : amount);
        uint256 approved = data.approvedAmount + (approval ? amount : 0);
        if (spent + approved > data.spendingLimit) return VALIDATION_FAILED;
        data.alreadySpent = spent;
        data.approvedAmount = approved;
        emit TokenSpent(id, msg.sender, target, account, amount, data.spendingLimit - spent - approved);
        return VALIDATION_SUCCESS;
    }

    /// (limit, spent, approved) of a configured token; reverts for a token the config does not name.
    function getPolicyData(ConfigId id, address multiplexer, address token, address account)
        external
        view
        returns (uint256 spendingLimit, uint256 alreadySpent, uint256 approvedAmount)
    {
        TokenPolicyData storage data = policyData[id][multiplexer][token][account];
        if (token == address(0) || data.spendingLimit == 0) revert InvalidTokenAddress(token);
        return (data.spendingLimit, data.alreadySpent, data.approvedAmount);
    }

    function supportsInterface(bytes4 interfaceID) external pure returns (bool) {
        return interfaceID == type(IERC165).interfaceId || interfaceID == type(IPolicy).interfaceId
            || interfaceID == type(IActionPolicy).interfaceId;
    }
}
