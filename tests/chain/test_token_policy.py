"""Contract-level tests of TestToken and ERC20SpendingLimitPolicy (chain/contracts), called directly from anvil dev
accounts: a dev account stands in for the multiplexer (SmartSession), so every rule is reachable without a
session. tests/e2e/test_token_limits.py runs the same policy behind the real SmartSession module."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector as selector
from eth_utils import keccak, to_checksum_address

from chain import stack
from tests.chain import userops as u
from tests.fixtures.chain import ChainStack

VALIDATION_SUCCESS, VALIDATION_FAILED = 0, 1
CHECK_ACTION = "checkAction(bytes32,address,address,uint256,bytes)"


@pytest.fixture(scope="module")
def rpc(chain_stack: ChainStack) -> u.Rpc:
    return u.Rpc(chain_stack.rpc_url)


def calldata(signature: str, types: list[str], args: list[Any]) -> bytes:
    return selector(signature) + encode(types, args)


def call(rpc: u.Rpc, sender: str, to: str, data: bytes) -> bytes:
    return bytes.fromhex(rpc("eth_call", {"from": sender, "to": to, "data": "0x" + data.hex()}, "latest")[2:])


def send(rpc: u.Rpc, sender: str, to: str, data: bytes) -> dict[str, Any]:
    receipt = rpc.send(sender, to, data)
    assert int(receipt["status"], 16) == 1, receipt
    return receipt


def random_address() -> str:
    return to_checksum_address(os.urandom(20))


def fresh_token(rpc: u.Rpc, sender: str) -> str:
    """A TestToken of this test's own (CREATE2 with a random salt), so supplies are not shared."""
    init_code = bytes.fromhex(json.loads(stack.BUILD.read_text())["TestToken"]["bytecode"][2:])
    salt = os.urandom(32)
    address = to_checksum_address(
        keccak(b"\xff" + bytes.fromhex(stack.DETERMINISTIC_DEPLOYER[2:]) + salt + keccak(init_code))[12:]
    )
    send(rpc, sender, stack.DETERMINISTIC_DEPLOYER, salt + init_code)
    assert rpc("eth_getCode", address, "latest") != "0x"
    return address


def balance(rpc: u.Rpc, token: str, holder: str) -> int:
    (value,) = rpc.call(token, "balanceOf(address)", ["address"], [holder], ["uint256"])
    return int(value)


def test_test_token_is_deployed_and_a_plain_erc20(chain_stack: ChainStack, rpc: u.Rpc) -> None:
    (symbol,) = rpc.call(chain_stack.test_token, "symbol()", [], [], ["string"])
    assert symbol == "TEST"
    alice, bob = chain_stack.accounts[0].address, chain_stack.accounts[1].address
    token = fresh_token(rpc, alice)
    carol = random_address()

    send(rpc, alice, token, calldata("mint(address,uint256)", ["address", "uint256"], [alice, 1000]))
    send(rpc, alice, token, calldata("transfer(address,uint256)", ["address", "uint256"], [carol, 300]))
    assert (balance(rpc, token, alice), balance(rpc, token, carol)) == (700, 300)
    (supply,) = rpc.call(token, "totalSupply()", [], [], ["uint256"])
    assert supply == 1000

    send(rpc, alice, token, calldata("approve(address,uint256)", ["address", "uint256"], [bob, 200]))
    transfer_from = calldata(
        "transferFrom(address,address,uint256)", ["address", "address", "uint256"], [alice, carol, 150]
    )
    send(rpc, bob, token, transfer_from)
    (left,) = rpc.call(token, "allowance(address,address)", ["address", "address"], [alice, bob], ["uint256"])
    assert left == 50 and balance(rpc, token, carol) == 450
    with pytest.raises(u.RpcError, match="revert"):  # InsufficientAllowance: 150 > 50
        call(rpc, bob, token, transfer_from)
    with pytest.raises(u.RpcError, match="revert"):  # InsufficientBalance
        call(rpc, carol, token, calldata("transfer(address,uint256)", ["address", "uint256"], [alice, 451]))


def test_policy_interfaces_and_canonical_address(chain_stack: ChainStack, rpc: u.Rpc) -> None:
    policy = chain_stack.policies["erc20_spending_limit"]
    assert policy == "0x000000000033212E272655D8a22402Db819477A6"  # the Startale SDK's canonical address
    user_op_iface = selector(
        "checkUserOpPolicy(bytes32,(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes))"
    )
    action_iface = selector(CHECK_ACTION)
    for iface, want in ((action_iface, True), (user_op_iface, False), (bytes.fromhex("01ffc9a7"), True)):
        (got,) = rpc.call(policy, "supportsInterface(bytes4)", ["bytes4"], [iface], ["bool"])
        assert got is want, f"supportsInterface({iface.hex()}) = {got}"


class Policy:
    """The policy as seen by one multiplexer (an unlocked dev account) for one config id and account."""

    def __init__(self, rpc: u.Rpc, address: str, multiplexer: str, account: str) -> None:
        self.rpc, self.address, self.multiplexer, self.account = rpc, address, multiplexer, account
        self.config_id = os.urandom(32)

    def init_data(self, tokens: list[str], limits: list[int]) -> bytes:
        return calldata(
            "initializeWithMultiplexer(address,bytes32,bytes)",
            ["address", "bytes32", "bytes"],
            [self.account, self.config_id, encode(["address[]", "uint256[]"], [tokens, limits])],
        )

    def initialize(self, tokens: list[str], limits: list[int]) -> None:
        send(self.rpc, self.multiplexer, self.address, self.init_data(tokens, limits))

    def _check(self, token: str, data: bytes, value: int) -> bytes:
        return calldata(
            CHECK_ACTION,
            ["bytes32", "address", "address", "uint256", "bytes"],
            [self.config_id, self.account, token, value, data],
        )

    def would_allow(self, token: str, data: bytes, value: int = 0) -> int:
        """checkAction's answer without recording anything (eth_call)."""
        (result,) = decode(["uint256"], call(self.rpc, self.multiplexer, self.address, self._check(token, data, value)))
        return int(result)

    def use(self, token: str, data: bytes) -> None:
        """checkAction as a transaction: what SmartSession does in validation, recorded."""
        assert self.would_allow(token, data) == VALIDATION_SUCCESS
        send(self.rpc, self.multiplexer, self.address, self._check(token, data, 0))

    def data(self, token: str) -> tuple[int, int, int]:
        out = call(
            self.rpc,
            self.multiplexer,
            self.address,
            calldata(
                "getPolicyData(bytes32,address,address,address)",
                ["bytes32", "address", "address", "address"],
                [self.config_id, self.multiplexer, token, self.account],
            ),
        )
        limit, spent, approved = decode(["uint256", "uint256", "uint256"], out)
        return int(limit), int(spent), int(approved)


def transfer(to: str, amount: int) -> bytes:
    return calldata("transfer(address,uint256)", ["address", "uint256"], [to, amount])


def approve(spender: str, amount: int) -> bytes:
    return calldata("approve(address,uint256)", ["address", "uint256"], [spender, amount])


def transfer_from(sender: str, to: str, amount: int) -> bytes:
    return calldata("transferFrom(address,address,uint256)", ["address", "address", "uint256"], [sender, to, amount])


def test_spending_limit_rules(chain_stack: ChainStack, rpc: u.Rpc) -> None:
    account = random_address()
    p = Policy(rpc, chain_stack.policies["erc20_spending_limit"], chain_stack.accounts[0].address, account)
    token, other_token, unconfigured = random_address(), random_address(), random_address()
    someone = random_address()
    p.initialize([token, other_token], [100, 50])
    assert p.data(token) == (100, 0, 0) and p.data(other_token) == (50, 0, 0)

    # transfers accumulate up to the limit, and not one unit beyond
    p.use(token, transfer(someone, 60))
    assert p.would_allow(token, transfer(someone, 41)) == VALIDATION_FAILED
    p.use(token, transfer_from(account, someone, 40))
    assert p.data(token) == (100, 100, 0)
    assert p.would_allow(token, transfer(someone, 1)) == VALIDATION_FAILED
    assert p.would_allow(token, approve(someone, 1)) == VALIDATION_FAILED  # approvals count against the same limit
    assert p.would_allow(token, transfer_from(someone, account, 10**6)) == VALIDATION_SUCCESS  # incoming: free

    # approvals on the other token; everything else is refused
    p.use(other_token, approve(someone, 30))
    assert p.data(other_token) == (50, 0, 30)
    assert p.would_allow(other_token, transfer(someone, 21)) == VALIDATION_FAILED
    assert p.would_allow(other_token, transfer(someone, 20)) == VALIDATION_SUCCESS
    assert p.would_allow(other_token, transfer(someone, 1), value=1) == VALIDATION_FAILED  # native value
    mint = calldata("mint(address,uint256)", ["address", "uint256"], [someone, 1])
    assert p.would_allow(other_token, mint) == VALIDATION_FAILED  # not a transfer or approval
    assert p.would_allow(other_token, b"") == VALIDATION_FAILED
    assert p.would_allow(unconfigured, transfer(someone, 1)) == VALIDATION_FAILED  # limit 0
    with pytest.raises(u.RpcError, match="revert"):
        p.data(unconfigured)

    # another multiplexer has no state of this config
    other_mux = Policy(p.rpc, p.address, chain_stack.accounts[1].address, account)
    other_mux.config_id = p.config_id
    assert other_mux.would_allow(other_token, transfer(someone, 1)) == VALIDATION_FAILED

    # re-initialising drops the old tokens and resets the amounts
    p.initialize([token], [10])
    assert p.data(token) == (10, 0, 0)
    with pytest.raises(u.RpcError, match="revert"):
        p.data(other_token)
    assert p.would_allow(other_token, transfer(someone, 1)) == VALIDATION_FAILED


@pytest.mark.parametrize(
    ("tokens", "limits"),
    [
        ([random_address()], [1, 2]),  # InvalidInitDataLength
        (["0x" + "00" * 20], [1]),  # InvalidTokenAddress
        ([random_address()], [0]),  # InvalidLimit
    ],
)
def test_bad_init_data_is_refused(chain_stack: ChainStack, rpc: u.Rpc, tokens: list[str], limits: list[int]) -> None:
    p = Policy(rpc, chain_stack.policies["erc20_spending_limit"], chain_stack.accounts[0].address, random_address())
    with pytest.raises(u.RpcError, match="revert"):
        call(rpc, p.multiplexer, p.address, p.init_data(tokens, limits))
