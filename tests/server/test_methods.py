"""Every JSON-RPC method of the service on a local key, over real HTTP against a running `signers serve`.

A local key signs deterministically (RFC 6979), so each answer is compared byte for byte with what
eth-account's LocalAccount produces for the same input (an independent implementation), and recovered.
"""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import keccak

from .conftest import LOCAL_KEY, LOCAL_KEY_ENV, LOCAL_KEY_URI

CHAIN = 31337
ACCOUNT = Account.from_key(LOCAL_KEY)
TO = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

TYPED = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Order": [{"name": "owner", "type": "address"}, {"name": "amount", "type": "int256"}],
    },
    "primaryType": "Order",
    "domain": {"name": "Shop", "chainId": "0x7a69", "verifyingContract": TO},
    "message": {"owner": ACCOUNT.address, "amount": "-12345678901234567890"},
}


@pytest.fixture(scope="module")
def server(module_server):
    return module_server(
        {
            "server": {"chain_id": CHAIN},
            "keys": {"dev": {"uri": LOCAL_KEY_URI}},
            "clients": {
                "app": {"keys": ["dev"], "hash_messages": True},
                "raw": {"keys": ["dev"], "raw_digest": True},
            },
        },
        env=LOCAL_KEY_ENV,
    )


def test_accounts_chain_and_health(server):
    assert server.result("eth_accounts", None, "app") == [ACCOUNT.address]  # viem sends no params key
    assert server.result("eth_chainId", None, "app") == hex(CHAIN)
    assert server.result("health_status", [], "app") == "OK"


def test_personal_sign_and_eth_sign_equal_eth_account(server):
    data = b"\xff\x00 not utf-8"
    expected = ACCOUNT.sign_message(encode_defunct(primitive=data)).signature.hex()
    assert server.result("personal_sign", ["0x" + data.hex(), ACCOUNT.address.lower()], "app") == "0x" + expected
    assert server.result("eth_sign", [ACCOUNT.address, "0x" + data.hex()], "app") == "0x" + expected
    signature = server.result("personal_sign", ["0x" + data.hex(), ACCOUNT.address], "app")
    assert Account.recover_message(encode_defunct(primitive=data), signature=signature) == ACCOUNT.address


def test_typed_data_v4_as_ethers_and_viem_send_it(server):
    expected = "0x" + ACCOUNT.sign_message(encode_typed_data(full_message=TYPED)).signature.hex()
    ethers = server.result("eth_signTypedData_v4", [ACCOUNT.address.lower(), json.dumps(TYPED)], "app")
    viem_form = {**TYPED, "domain": {**TYPED["domain"], "chainId": CHAIN}}  # viem: chainId as a JSON number
    viem = server.result("eth_signTypedData_v4", [ACCOUNT.address, json.dumps(viem_form)], "app")
    web3py = server.result("eth_signTypedData", [ACCOUNT.address, TYPED], "app")  # an object, as web3.py sends
    assert ethers == viem == web3py == expected
    assert Account.recover_message(encode_typed_data(full_message=TYPED), signature=ethers) == ACCOUNT.address


def _rpc_tx(tx: dict) -> dict:
    out = {}
    for name, value in tx.items():
        out[name] = hex(value) if isinstance(value, int) else value
    return out


BASE = {"chainId": CHAIN, "nonce": 7, "gas": 100_000, "to": TO, "value": 12345, "data": "0x1234"}
ACCESS = [{"address": TO, "storageKeys": ["0x" + "00" * 31 + "01"]}]


@pytest.mark.parametrize(
    "tx",
    [
        pytest.param({**BASE, "gasPrice": 10**9}, id="legacy"),
        pytest.param({**BASE, "type": 1, "gasPrice": 10**9, "accessList": ACCESS}, id="2930"),
        pytest.param(
            {**BASE, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9, "accessList": ACCESS}, id="1559"
        ),
    ],
)
def test_sign_transaction_types_0_to_2_equal_eth_account(server, tx):
    rpc = {**_rpc_tx(tx), "from": ACCOUNT.address}
    raw = server.result("eth_signTransaction", [rpc], "app")
    assert raw == "0x" + ACCOUNT.sign_transaction(tx).raw_transaction.hex()
    assert Account.recover_transaction(raw) == ACCOUNT.address


def test_sign_blob_transaction_with_blobs(server):
    blob = b"\x00" * 131072
    tx = {**BASE, "type": 3, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9, "maxFeePerBlobGas": 10**9}
    rpc = {**_rpc_tx(tx), "from": ACCOUNT.address, "blobs": ["0x" + blob.hex()]}
    raw = server.result("eth_signTransaction", [rpc], "app")
    assert raw == "0x" + ACCOUNT.sign_transaction(tx, blobs=[blob]).raw_transaction.hex()


def test_sign_set_code_transaction_with_authorization_list(server):
    auth = ACCOUNT.sign_authorization({"chainId": CHAIN, "address": TO, "nonce": 8})
    listed = {"chainId": CHAIN, "address": TO, "nonce": 8, "yParity": auth.y_parity, "r": auth.r, "s": auth.s}
    tx = {**BASE, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9, "authorizationList": [listed]}
    rpc = {**_rpc_tx({k: v for k, v in tx.items() if k != "authorizationList"}), "from": ACCOUNT.address}
    rpc["authorizationList"] = [_rpc_tx(listed)]
    raw = server.result("eth_signTransaction", [rpc], "app")
    assert raw == "0x" + ACCOUNT.sign_transaction({**tx, "authorizationList": [auth]}).raw_transaction.hex()
    assert raw.startswith("0x04")


def test_sign_authorization_equals_eth_account(server):
    expected = ACCOUNT.sign_authorization({"chainId": CHAIN, "address": TO, "nonce": 3})
    got = server.result("signers_signAuthorization", [{"chainId": hex(CHAIN), "address": TO, "nonce": "0x3"}], "app")
    assert got == {
        "chainId": hex(CHAIN),
        "address": TO,
        "nonce": "0x3",
        "yParity": hex(expected.y_parity),
        "r": hex(expected.r),
        "s": hex(expected.s),
    }


def test_raw_digest_for_a_client_with_the_right(server):
    digest = keccak(b"anything")
    signature = server.result("signers_signDigest", [ACCOUNT.address, "0x" + digest.hex()], "raw")
    assert signature == "0x" + ACCOUNT.unsafe_sign_hash(digest).signature.hex()
    denied = server.rpc("signers_signDigest", [ACCOUNT.address, "0x" + digest.hex()], "app")["error"]
    assert denied["code"] == 4001 and denied["message"].startswith("User denied:")


def test_batch_mixes_methods_and_keeps_ids(server):
    batch = [
        {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_accounts", "params": []},
        *[
            {
                "jsonrpc": "2.0",
                "id": 10 + i,
                "method": "personal_sign",
                "params": [f"0x{1000 + i:04x}", ACCOUNT.address],
            }
            for i in range(5)
        ],
        {"jsonrpc": "2.0", "method": "health_status"},  # a notification: no answer
    ]
    answers = {a["id"]: a for a in server.post(batch, "app").json()}
    assert set(answers) == {"a", 2, *range(10, 15)}
    assert answers["a"]["result"] == hex(CHAIN)
    for i in range(5):
        data = (1000 + i).to_bytes(2, "big")
        assert Account.recover_message(encode_defunct(primitive=data), signature=answers[10 + i]["result"]) == (
            ACCOUNT.address
        )


def test_blind_hash_needs_hash_messages(signers_server, local_key_env):
    server = signers_server(
        {"server": {"chain_id": CHAIN}, "keys": {"dev": {"uri": local_key_env}}, "clients": {"app": {"keys": ["*"]}}}
    )
    error = server.rpc("personal_sign", ["0x" + "11" * 32, ACCOUNT.address], "app")["error"]
    assert error["code"] == 4001 and "hash_messages" in error["message"]
    assert server.result("personal_sign", ["0x" + "11" * 31, ACCOUNT.address], "app")


def test_missing_fields_without_a_node_are_named_and_from_defaults_to_the_only_key(server):
    tx = {k: hex(v) if isinstance(v, int) else v for k, v in BASE.items() if k != "nonce"}
    error = server.rpc("eth_signTransaction", [{**tx, "gasPrice": "0x1"}], "app")["error"]
    assert error["code"] == -32602 and "lacks nonce" in error["message"]
    raw = server.result("eth_signTransaction", [{**tx, "nonce": "0x7", "gasPrice": "0x1"}], "app")  # no from
    assert Account.recover_transaction(raw) == ACCOUNT.address


def test_owner_user_operation_signature_equals_eth_account(server):
    from signers.aa import CANONICAL, UserOperation, user_operation_hash

    validator = "0x" + "ab" * 20  # an owner validator's address in the nonce key (not the Smart Sessions module)
    op = UserOperation(sender=TO, nonce=int(validator, 16) << 64, call_data=b"\x01\x02", call_gas_limit=50_000,
                       verification_gas_limit=80_000, pre_verification_gas=21_000, max_fee_per_gas=2,
                       max_priority_fee_per_gas=1)  # fmt: skip
    request = {"userOperation": op.to_rpc(), "entryPoint": CANONICAL.entry_point, "chainId": CHAIN}
    result = server.result("signers_signUserOperation", [request], "app")  # one key: no address needed
    op_hash = user_operation_hash(op, CANONICAL.entry_point, CHAIN)
    expected = "0x" + ACCOUNT.sign_message(encode_defunct(primitive=op_hash)).signature.hex()
    assert result == {"signature": expected, "ecdsa": expected, "userOpHash": "0x" + op_hash.hex()}

    # the same op for the Smart Sessions module, with a permission the service was never told about: refused
    session_op = op.replace(nonce=int(CANONICAL.smart_sessions, 16) << 64)
    request = {**request, "userOperation": session_op.to_rpc(), "permissionId": "0x" + "42" * 32}
    error = server.rpc("signers_signUserOperation", [request], "app")["error"]
    assert error["code"] == 4001 and "not known" in error["message"]
