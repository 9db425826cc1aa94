// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.25;

import "./Interfaces.sol";

/// @title SudoPolicy
/// @notice Allows everything it is asked about: "any calldata to this target+selector" when used as an action
/// policy. Same interfaces and behaviour as smartsessions' SudoPolicy (canonical address
/// 0x0000000000FEEc8D74e3143fBaBbca515358d869). No state, no constructor.
contract SudoPolicy is IUserOpPolicy, IActionPolicy, I1271Policy {
    function initializeWithMultiplexer(address account, ConfigId configId, bytes calldata) external {
        emit PolicySet(configId, msg.sender, account);
    }

    function checkUserOpPolicy(ConfigId, PackedUserOperation calldata) external pure returns (uint256) {
        return VALIDATION_SUCCESS;
    }

    function checkAction(ConfigId, address, address, uint256, bytes calldata) external pure returns (uint256) {
        return VALIDATION_SUCCESS;
    }

    function check1271SignedAction(ConfigId, address, address, bytes32, bytes calldata)
        external
        pure
        returns (bool)
    {
        return true;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == type(IERC165).interfaceId || id == type(IPolicy).interfaceId
            || id == type(IUserOpPolicy).interfaceId || id == type(IActionPolicy).interfaceId
            || id == type(I1271Policy).interfaceId;
    }
}
