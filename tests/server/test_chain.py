"""The service against the running chain stack (anvil + EntryPoint 0.7 + Nexus + Smart Sessions + Alto).

- ``eth_sendTransaction`` as ethers and viem send it (no nonce, fees or chainId) lands on anvil; node reads
  are proxied.
- A session UserOperation for a Nexus account, its session key in SoftHSM behind the service, signed through
  ``signers_signUserOperation`` (the scope check runs in the service, on the whole op) lands on chain; an
  out-of-scope op is refused with 4001 and no signature, and the audit trail records the refusal.
"""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
import time

import httpx
import pytest
from eth_account import Account

import signers
from demo.onchain import INCREMENT
from signers.aa import Call, UserOperation, install_smart_sessions
from signers.aa.flows import build_user_operation
from tests.e2e.conftest import grant_increment


def wait_receipt(chain, tx_hash: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while (receipt := chain.node.request("eth_getTransactionReceipt", [tx_hash])) is None:
        assert time.monotonic() < deadline, f"{tx_hash} not mined"
        time.sleep(0.02)  # anvil automines; the receipt can trail the hash by a moment
    return receipt


@pytest.fixture
def funded_key(chain, monkeypatch):
    key = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("SIGNERS_TEST_CHAIN_KEY", key)
    address = Account.from_key(key).address
    chain.fund(address)
    return address


def test_send_transaction_fills_and_lands(signers_server, chain, chain_stack, funded_key):
    server = signers_server(
        {
            "server": {"chain_id": chain_stack.chain_id, "upstream": chain_stack.rpc_url},
            "keys": {"payer": {"uri": "local:env:SIGNERS_TEST_CHAIN_KEY"}},
            "clients": {"app": {"keys": ["payer"]}},
        }
    )
    to = "0x" + secrets.token_hex(20)
    ethers_shape = {"gas": "0x5208", "value": "0x7", "from": funded_key.lower(), "to": to}
    viem_shape = {"from": funded_key, "to": to, "value": "0x8"}
    for tx in (ethers_shape, viem_shape):
        tx_hash = server.result("eth_sendTransaction", [tx], "app")
        assert int(wait_receipt(chain, tx_hash)["status"], 16) == 1
        sent = chain.node.request("eth_getTransactionByHash", [tx_hash])
        assert sent["from"].lower() == funded_key.lower() and int(sent["chainId"], 16) == chain_stack.chain_id
    assert server.result("eth_getBalance", [to, "latest"], "app") == hex(15)  # a proxied read
    assert int(server.result("eth_blockNumber", [], "app"), 16) > 0


def test_session_user_operation_through_the_service(
    signers_server, chain, chain_stack, softhsm, counter, tmp_path, monkeypatch
):
    monkeypatch.setenv("SIGNERS_TEST_OWNER", "0x" + secrets.token_hex(32))
    owner = signers.load_signer("local:env:SIGNERS_TEST_OWNER")
    book = {f.name: getattr(chain.book, f.name) for f in dataclasses.fields(chain.book)}
    config = {
        "server": {
            "chain_id": chain.chain_id,
            "audit_db": str(tmp_path / "audit.sqlite"),
            "upstream": chain_stack.rpc_url,  # where the scope check reads the session's on-chain limits
        },
        "keys": {"bot": {"uri": softhsm.generate_key()}},
        "clients": {
            "bot-runner": {
                "keys": ["bot"],
                "methods": ["eth_accounts", "signers_signUserOperation", "personal_sign", "reload"],
                "hash_messages": True,  # the client may; the library still refuses a session key's message
            }
        },
        "addresses": {str(chain.chain_id): book},
    }
    server = signers_server(config)
    (session_key,) = server.result("eth_accounts", [], "bot-runner")

    account = chain.new_account(owner.address)
    chain.fund(account.address)
    assert install_smart_sessions(account, owner, chain.bundler).receipt["success"] is True

    class Remote:  # what grant_increment needs of the session key: its address
        address = session_key

    pid, session = grant_increment(chain, account, owner, Remote, counter)
    validation = account.session_validation(pid)

    def sign(op: UserOperation) -> dict:
        request = {
            "userOperation": op.to_rpc(),
            "entryPoint": account.entry_point,
            "chainId": hex(chain.chain_id),
            "address": session_key,
        }
        return server.rpc("signers_signUserOperation", [request], "bot-runner")

    op = build_user_operation(account, [Call(counter, 0, INCREMENT)], validation, chain.bundler, deploy=False)
    # the same op calling another selector (the bundler cannot estimate it: the chain refuses it in validation)
    out_of_scope = op.replace(call_data=account.encode_calls([Call(counter, 0, bytes.fromhex("deadbeef"))]))

    # Before the service knows the grant, the scope check fails closed.
    answer = sign(op)
    assert answer["error"]["code"] == 4001 and "not known" in answer["error"]["message"]

    # Hand the grant to the service (a reload), then the session op is signed and lands.
    config["sessions"] = [{"session": session.to_dict(), "account": account.address}]
    server.rewrite_config(config)
    headers = server.headers("bot-runner")
    assert httpx.post(server.url + "reload", headers=headers).status_code == 202
    deadline = time.monotonic() + 30
    while (status := httpx.get(server.url + "reload", headers=headers).json())["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status["last"] == {"ok": True, "generation": 2}

    before = chain.counter_value(counter)
    result = sign(op)["result"]
    assert result["signature"][2:].startswith("00" + pid.hex())  # USE mode: 0x00 ‖ permissionId ‖ ecdsa
    assert result["signature"].endswith(result["ecdsa"][2:])
    assert result["userOpHash"] == "0x" + account.user_op_hash(op).hex()
    op_hash = chain.bundler.send_user_operation(op.replace(signature=result["signature"]), account.entry_point)
    assert chain.bundler.wait_for_receipt(op_hash)["success"] is True
    assert chain.counter_value(counter) == before + 1
    assert chain.counter_last_caller(counter) == account.address

    # Out of scope (another selector): 4001, no signature, and the refusal is in the audit trail.
    answer = sign(out_of_scope)
    assert "result" not in answer
    assert answer["error"]["code"] == 4001 and answer["error"]["message"].startswith("User denied:")
    assert answer["error"]["data"]["reason"] == "ScopeViolationError"
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        rows = db.execute("SELECT outcome, client FROM audit WHERE kind = 'user_operation' ORDER BY id").fetchall()
    assert rows == [("refused", "bot-runner"), ("signed", "bot-runner"), ("refused", "bot-runner")]

    # A session key signs session UserOperations only: a message (a hash, say) is refused by the library's rule.
    answer = server.rpc("personal_sign", ["0x" + "11" * 32, session_key], "bot-runner")
    assert answer["error"]["code"] == 4001 and answer["error"]["data"]["reason"] == "ScopeViolationError"
    owner.close()
