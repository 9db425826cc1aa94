"""Stock JavaScript clients against a real ``signers serve``: ethers v6 ``JsonRpcSigner`` and viem's JSON-RPC
account (tests/server/js/clients.mjs), with keys in SoftHSM and in LocalStack KMS; a session UserOperation built
by viem through the TypeScript example account and signed by the service (session key in SoftHSM) landing on
the local chain, and an out-of-scope one refused; and the service's session signature byte for byte equal to the
Startale SDK's, in-process, for the same op and key.

Every signature a JavaScript client got is recovered here, in Python, with eth-account.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes

import signers
from demo.onchain import INCREMENT, SET_NUMBER, Chain
from demo.service_step import session_op_job
from signers.aa import (
    CANONICAL,
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    NexusAccount,
    UserOperation,
    install_smart_sessions,
    stub_signature,
)
from signers.aa.accounts import nonce_key, split_nonce
from signers.aa.execution import encode_execute
from signers.aa.sessions import prepare_sessions
from signers.signer import Signer
from tests.aa import gen, sdk_harness
from tests.e2e.conftest import account, audit, chain, counter, grant_increment, owner  # noqa: F401 (fixtures)
from tests.fixtures.chain import ChainStack

from .conftest import LOCAL_KEY, RunningServer

JS = Path(__file__).resolve().parent / "js"
TEXT = "hello from a JavaScript client"  # as clients.mjs signs them
BYTES = "0x00ff10c0de"
CAP_WEI = 10**18


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """tests/server/js/install (idempotent npm ci of the pinned ethers, viem, TypeScript), then tsc on the
    TypeScript example (type-checked against the pinned viem; the session test imports its output)."""
    subprocess.run([str(JS / "install")], check=True, timeout=600)
    compiled = subprocess.run(
        [str(JS / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"], cwd=JS, capture_output=True, text=True
    )
    assert compiled.returncode == 0, f"tsc failed on the viem example:\n{compiled.stdout}{compiled.stderr}"
    return JS


def run_node(script: str, job: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
    proc = subprocess.run(
        ["node", script], cwd=JS, input=json.dumps(job), capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(f"node {script} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def node_rpc(url: str, method: str, *params: Any) -> Any:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30)
    body = answer.json()
    assert "error" not in body, body
    return body["result"]


def typed_data(chain_id: int) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": [
                {"name": "maker", "type": "address"},
                {"name": "amount", "type": "uint256"},
                {"name": "memo", "type": "string"},
            ],
        },
        "primaryType": "Order",
        "domain": {"name": "Exchange", "chainId": chain_id, "verifyingContract": "0x" + "cc" * 20},
        "message": {"maker": "0x" + "ab" * 20, "amount": 123456789, "memo": "signed by a key behind a service"},
    }


@pytest.mark.parametrize("custody", ["softhsm", "aws-kms"])
def test_ethers_and_viem_sign_and_send_through_the_service(
    custody: str,
    signers_server: Callable[..., RunningServer],
    softhsm: Any,
    localstack: Any,
    chain_stack: ChainStack,
    node_clients: Path,
) -> None:
    uri = softhsm.generate_key() if custody == "softhsm" else localstack.create_key().uri
    server = signers_server(
        {
            "server": {"chain_id": chain_stack.chain_id, "upstream": chain_stack.rpc_url},
            "keys": {"treasury": {"uri": uri}},
            "clients": {"app": {"keys": ["treasury"], "max_value_wei": CAP_WEI}},
        }
    )
    (address,) = server.result("eth_accounts", [], "app")
    funder = chain_stack.accounts[1].address  # unlocked in anvil
    node_rpc(chain_stack.rpc_url, "eth_sendTransaction", {"from": funder, "to": address, "value": hex(10**18)})
    to = Account.create().address  # an address of this test's own: no other test moves its balance
    typed = typed_data(chain_stack.chain_id)
    job = {
        "url": server.url,
        "token": server.token("app"),
        "address": address,
        "chainId": chain_stack.chain_id,
        "to": to,
        "typedData": typed,
        "refuse": {"value": str(2 * CAP_WEI)},
    }
    before = int(node_rpc(chain_stack.rpc_url, "eth_getBalance", to, "latest"), 16)
    results = run_node("clients.mjs", job)

    for library in ("ethers", "viem"):
        out = results[library]
        assert out["address"].lower() == address.lower(), library
        assert Account.recover_message(encode_defunct(text=TEXT), signature=out["messageText"]) == address, library
        assert Account.recover_message(encode_defunct(hexstr=BYTES), signature=out["messageBytes"]) == address
        signable = encode_typed_data(full_message=typed)
        assert Account.recover_message(signable, signature=out["typedData"]) == address, library
        raw = HexBytes(out["signedTransaction"])
        assert Account.recover_transaction(raw) == address, library
        fields = TypedTransaction.from_bytes(raw).as_dict()
        assert (fields["chainId"], fields["nonce"], fields["value"], fields["gas"]) == (
            chain_stack.chain_id,
            7,
            12345,
            21000,
        ), library
        assert HexBytes(fields["to"]) == HexBytes(to)
        receipt = node_rpc(chain_stack.rpc_url, "eth_getTransactionReceipt", out["sentHash"])
        assert receipt["status"] == "0x1" and receipt["from"] == address.lower(), library
        assert out["receiptStatus"] == 1
    for i, signature in enumerate(results["ethers"]["batch"]):  # sent as one batch (a JSON array)
        assert Account.recover_message(encode_defunct(text=f"{TEXT} #{i}"), signature=signature) == address
    # ethers recognises a refusal by the message, viem by the code 4001: the service sends both
    assert results["ethers"]["refusal"]["code"] == "ACTION_REJECTED", results["ethers"]["refusal"]
    assert "UserRejectedRequestError" in results["viem"]["refusal"]["names"], results["viem"]["refusal"]
    assert results["viem"]["refusal"]["code"] == 4001
    for library in ("ethers", "viem"):  # a wrong token is an error the app sees, never a signature or a hang
        wrong = results[library]["wrongToken"]
        assert wrong["names"] != ["signed"] and ("401" in wrong["message"] or wrong["code"] == -32001), wrong
    after = int(node_rpc(chain_stack.rpc_url, "eth_getBalance", to, "latest"), 16)
    assert after == before + 2 * 1000  # the two sends landed, the refused one did not

    log = server.access_log.read_text()
    assert server.token("app") not in log
    methods = {line.get("method") for line in server.log_lines()}
    assert {"personal_sign", "eth_signTypedData_v4", "eth_signTransaction", "eth_sendTransaction"} <= methods


def test_a_session_op_built_by_viem_is_signed_by_the_service_and_lands(
    signers_server: Callable[..., RunningServer],
    softhsm: Any,
    chain: Chain,  # noqa: F811
    chain_stack: ChainStack,
    owner: Signer,  # noqa: F811
    account: NexusAccount,  # noqa: F811
    counter: str,  # noqa: F811
    node_clients: Path,
    tmp_path: Path,
) -> None:
    installed = install_smart_sessions(account, owner, chain.bundler)
    assert installed.receipt is not None and installed.receipt["success"] is True
    session_uri = softhsm.generate_key()
    with signers.load_signer(session_uri) as session_key:
        permission_id, session = grant_increment(chain, account, owner, session_key, counter)
        session_address = session_key.address
    server = signers_server(
        {
            "server": {"chain_id": chain.chain_id, "upstream": chain_stack.rpc_url},
            "keys": {"session": {"uri": session_uri}},
            "clients": {"bot": {"keys": ["session"]}},
            "sessions": [{"session": session.to_dict(), "account": account.address}],
            "addresses": {str(chain.chain_id): asdict(chain.book)},
        }
    )
    before = chain.counter_value(counter)
    out = run_node(
        "session_op.mjs", session_op_job(server, "bot", session_address, chain, account.address, permission_id, counter)
    )
    assert out["success"] is True and out["sender"].lower() == account.address.lower()
    assert split_nonce(int(out["nonce"], 16))[2] == chain.book.smart_sessions  # validated by Smart Sessions
    assert chain.counter_value(counter) == before + 1
    assert chain.counter_last_caller(counter) == account.address
    assert out["refusal"]["signed"] is None and out["refusal"]["code"] == 4001, out["refusal"]
    assert out["refusal"]["message"].startswith("User denied")
    outcomes = [(line.get("method"), line.get("outcome")) for line in server.log_lines()]
    assert [o for m, o in outcomes if m == "signers_signUserOperation"] == ["ok", "denied"], outcomes


def test_the_service_signs_a_session_op_as_the_startale_sdk_does(
    signers_server: Callable[..., RunningServer], local_key_env: str
) -> None:
    """Same op, same key (local: ECDSA is deterministic, RFC 6979 in both): the service's USE-mode signature
    equals the one the real Startale SDK (toSmartSessionsValidator) makes in-process."""
    sdk_harness.install()
    chain_id, sender, target = 31337, "0x" + "a1" * 20, "0x" + "c0" * 20
    session_key = Account.from_key(LOCAL_KEY).address
    prepared = prepare_sessions(
        CreateSessionDataParams(
            session_public_key=session_key, action_policies_info=[ActionPolicyInfo(target, INCREMENT)]
        ),
        chain_id=chain_id,
        addresses=CANONICAL,
    )
    (session,), (permission_id,) = prepared.sessions, prepared.permission_ids
    server = signers_server(
        {
            "server": {"chain_id": chain_id},
            "keys": {"session": {"uri": local_key_env}},
            "clients": {"bot": {"keys": ["session"]}},
            "sessions": [{"session": session.to_dict(), "account": sender}],
        }
    )
    ops = [
        UserOperation(
            sender=sender,
            nonce=(nonce_key(CANONICAL.smart_sessions, key) << 64) | sequence,
            call_data=encode_execute([Call(target, 0, INCREMENT)]),
            call_gas_limit=80_000 + key,
            verification_gas_limit=300_000,
            pre_verification_gas=60_000,
            max_fee_per_gas=2 * 10**9,
            max_priority_fee_per_gas=10**9,
            signature=stub_signature(permission_id),
        )
        for key, sequence in ((0, 0), (7, 3), (0xABCDE, 99))
    ]
    ours = [
        server.result(
            "signers_signUserOperation",
            [{"userOperation": op.to_rpc(), "entryPoint": CANONICAL.entry_point, "chainId": hex(chain_id)}],
            "bot",
        )
        for op in ops
    ]
    theirs = sdk_harness.run(
        [
            {
                "kind": "sign",
                "chainId": chain_id,
                "account": sender,
                "privateKey": LOCAL_KEY,
                "permissionId": "0x" + permission_id.hex(),
                "userOperation": gen.user_operation_json(op),
                "sessionUserOperation": gen.user_operation_json(op),
            }
            for op in ops
        ]
    )
    for op, mine, sdk in zip(ops, ours, theirs, strict=True):
        assert mine["signature"] == sdk["sessionSignature"], op.nonce
        assert mine["userOpHash"] == sdk["sessionUserOpHash"]
    out_of_scope = ops[0].replace(call_data=encode_execute([Call(target, 0, SET_NUMBER + bytes(32))]))
    refused = server.rpc(
        "signers_signUserOperation",
        [{"userOperation": out_of_scope.to_rpc(), "entryPoint": CANONICAL.entry_point, "chainId": hex(chain_id)}],
        "bot",
    )
    assert "result" not in refused and refused["error"]["code"] == 4001, refused
