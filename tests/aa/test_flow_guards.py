"""What a flow checks of the bundler's answers: the gas it may charge (max_cost_wei, before anything is
signed) and the userOpHash it answers (must be the op's own). A tiny real JSON-RPC server plays node and
bundler; the owner key counts its signatures."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest

from signers.aa import (
    OperationCostError,
    StartaleAccount,
    UserOperationHashMismatchError,
    revoke_permission,
)
from signers.aa.bundler import BundlerClient
from signers.signer import Signer

from .rpc_server import serve
from .test_scope import CountingBackend

PERMISSION = b"\x42" * 32
GAS = {"preVerificationGas": "0xc350", "verificationGasLimit": "0x30d40", "callGasLimit": "0x186a0"}
FEES = {"maxFeePerGas": hex(2 * 10**9), "maxPriorityFeePerGas": hex(10**9)}


def node_and_bundler(method: str, params: list[Any]) -> Any:
    return {
        "eth_chainId": "0x7a69",
        "eth_call": "0x" + "00" * 32,  # EntryPoint.getNonce: 0
        "pimlico_getUserOperationGasPrice": {"standard": FEES, "fast": FEES},
        "eth_estimateUserOperationGas": GAS,
        "eth_sendUserOperation": "0x" + "ab" * 32,  # not the op's hash: a lying or confused bundler
    }[method]


def test_gas_over_max_cost_is_refused_before_signing(plugin_manager: pluggy.PluginManager) -> None:
    owner_backend = CountingBackend(bytes.fromhex("22" * 32))
    owner = Signer(owner_backend, plugin_manager=plugin_manager)
    with serve(node_and_bundler) as server:
        account = StartaleAccount("0x" + "11" * 20, node=server.url, chain_id=31337)
        gas = int(GAS["preVerificationGas"], 16) + int(GAS["verificationGasLimit"], 16) + int(GAS["callGasLimit"], 16)
        cost = gas * int(FEES["maxFeePerGas"], 16)
        with pytest.raises(OperationCostError, match=f"up to {cost} wei"):
            revoke_permission(account, owner, BundlerClient(server.url), PERMISSION, max_cost_wei=cost - 1)
        assert owner_backend.signs == 0
        assert "eth_sendUserOperation" not in server.methods()


def test_a_wrong_user_op_hash_from_the_bundler_is_an_error(plugin_manager: pluggy.PluginManager) -> None:
    owner = Signer(CountingBackend(bytes.fromhex("22" * 32)), plugin_manager=plugin_manager)
    with serve(node_and_bundler) as server:
        account = StartaleAccount("0x" + "11" * 20, node=server.url, chain_id=31337)
        with pytest.raises(UserOperationHashMismatchError, match="0xabab"):
            revoke_permission(account, owner, BundlerClient(server.url), PERMISSION, max_cost_wei=10**18)
        assert server.methods()[-1] == "eth_sendUserOperation"
