// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import "./Interfaces.sol";

/// @title ValueLimitPolicy
/// @notice Caps the total native value a session may move. Same rules as smartsessions' ValueLimitPolicy
/// (canonical 0x000000000021dC45451291BCDfc9f0B46d6f0278): initData[0:32] = uint256 limit (limit 0 refused;
/// re-initialising resets the amount used). As an action policy it counts each action's value; as a userOp
/// policy it sums the values of an ERC-7579 `execute` (single or batch; other call types revert), and lets
/// any other callData through.
contract ValueLimitPolicy is IUserOpPolicy, IActionPolicy {
    struct Execution {
        address target;
        uint256 value;
        bytes callData;
    }

    struct Limit {
        uint256 limit;
        uint256 used;
    }

    error UnsupportedCallType(bytes1 callType);

    bytes4 private constant EXECUTE_SELECTOR = 0xe9ae5c53; // execute(bytes32,bytes)

    mapping(ConfigId id => mapping(address multiplexer => mapping(address account => Limit))) public limits;

    function initializeWithMultiplexer(address account, ConfigId configId, bytes calldata initData) external {
        uint256 limit = uint256(bytes32(initData[0:32]));
        if (limit == 0) revert PolicyNotInitialized(configId, msg.sender, account);
        limits[configId][msg.sender][account] = Limit(limit, 0);
        emit PolicySet(configId, msg.sender, account);
    }

    function checkUserOpPolicy(ConfigId id, PackedUserOperation calldata op) external returns (uint256) {
        if (op.callData.length < 4 || bytes4(op.callData[0:4]) != EXECUTE_SELECTOR) return VALIDATION_SUCCESS;
        (bytes32 mode, bytes memory execution) = abi.decode(op.callData[4:], (bytes32, bytes));
        bytes1 callType = mode[0];
        uint256 total;
        if (callType == 0x00) {
            total = uint256(_word(execution, 20)); // target(20) || value(32) || callData
        } else if (callType == 0x01) {
            Execution[] memory batch = abi.decode(execution, (Execution[]));
            for (uint256 i = 0; i < batch.length; i++) {
                total += batch[i].value;
            }
        } else {
            revert UnsupportedCallType(callType);
        }
        return _spend(id, op.sender, total);
    }

    function checkAction(ConfigId id, address account, address, uint256 value, bytes calldata)
        external
        returns (uint256)
    {
        return _spend(id, account, value);
    }

    function _spend(ConfigId id, address account, uint256 value) private returns (uint256) {
        Limit storage l = limits[id][msg.sender][account];
        if (l.used + value > l.limit) return VALIDATION_FAILED;
        l.used += value;
        return VALIDATION_SUCCESS;
    }

    function _word(bytes memory data, uint256 offset) private pure returns (bytes32 word) {
        require(data.length >= offset + 32, "short execution calldata");
        assembly {
            word := mload(add(add(data, 32), offset))
        }
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC165).interfaceId || id == type(IPolicy).interfaceId
            || id == type(IUserOpPolicy).interfaceId || id == type(IActionPolicy).interfaceId;
    }
}
