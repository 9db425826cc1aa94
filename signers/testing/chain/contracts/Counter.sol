// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

/// @title Counter
/// @notice The target of session calls in tests and the demo: each function changes state a test can read back.
contract Counter {
    uint256 public number;
    address public lastCaller;
    uint256 public totalReceived;

    event NumberChanged(address indexed caller, uint256 number, uint256 value);

    function increment() external {
        _set(number + 1);
    }

    function setNumber(uint256 newNumber) external {
        _set(newNumber);
    }

    /// Payable variant: lets sessions with value limits (ValueLimitPolicy, UniActionPolicy) move ETH.
    function incrementPayable() external payable {
        totalReceived += msg.value;
        _set(number + 1);
    }

    function _set(uint256 newNumber) private {
        number = newNumber;
        lastCaller = msg.sender;
        emit NumberChanged(msg.sender, newNumber, msg.value);
    }
}
