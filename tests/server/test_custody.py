"""The service in front of keys in real custody: SoftHSM2 (PKCS#11, directly and through a two-process
SigningPool), LocalStack (AWS KMS) and the Cloud KMS emulator (the backend with a native async path).

Every signing method, each signature recovered to the key's address; the addresses the service announces
are checked against the public keys it lists and, for KMS, against KMS's own GetPublicKey."""

from __future__ import annotations

import json

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_keys import keys as eth_keys
from eth_utils import keccak

from .test_methods import TYPED

CHAIN = 31337
TO = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KEYS = ("hsm", "kms", "pool", "gcp")


@pytest.fixture(scope="module")
def custody(module_server, softhsm, localstack, gcp_kms_emulator):
    kms_key = localstack.create_key()
    server = module_server(
        {
            "server": {"chain_id": CHAIN},
            "keys": {
                "hsm": {"uri": softhsm.generate_key()},
                "kms": {"uri": kms_key.uri},
                "pool": {"uri": softhsm.generate_key(), "processes": 2},  # PKCS#11 in two worker processes
                "gcp": {"uri": gcp_kms_emulator.uri(gcp_kms_emulator.create_key())},  # the native async path
            },
            "clients": {"app": {"keys": ["*"], "hash_messages": True, "raw_digest": True}},
        }
    )
    addresses = dict(zip(KEYS, server.result("eth_accounts", [], "app"), strict=True))
    assert addresses["kms"] == kms_key.address  # KMS's own public key, read by the test
    return server, addresses


def test_public_keys_match_the_announced_addresses(custody):
    server, addresses = custody
    listed = httpx.get(server.url + "api/v1/eth1/publicKeys", headers=server.headers("app")).json()
    derived = [eth_keys.PublicKey(bytes.fromhex(k[4:])).to_checksum_address() for k in listed]
    assert derived == [addresses[k] for k in KEYS]
    assert httpx.get(server.url + "api/v1/eth1/publicKeys").status_code == 401


def test_healthcheck_reaches_every_backend(custody):
    server, _ = custody
    health = httpx.get(server.url + "healthcheck").json()
    assert health == {"status": "UP", "checks": [{"id": k, "status": "UP"} for k in KEYS]}


@pytest.mark.parametrize("key", KEYS)
def test_every_signing_method_recovers(custody, key):
    server, addresses = custody
    address = addresses[key]
    for method, params in (("personal_sign", ["0x" + b"gm".hex(), address]), ("eth_sign", [address, "0x676d"])):
        signature = server.result(method, params, "app")
        assert Account.recover_message(encode_defunct(b"gm"), signature=signature) == address

    signature = server.result("eth_signTypedData_v4", [address, json.dumps(TYPED)], "app")
    assert Account.recover_message(encode_typed_data(full_message=TYPED), signature=signature) == address

    tx = {"from": address, "to": TO, "chainId": hex(CHAIN), "nonce": "0x0", "gas": "0x5208", "value": "0x1",
          "maxFeePerGas": "0x3b9aca00", "maxPriorityFeePerGas": "0x1", "accessList": []}  # fmt: skip
    assert Account.recover_transaction(server.result("eth_signTransaction", [tx], "app")) == address

    digest = keccak(b"raw")
    signature = server.result("signers_signDigest", [address, "0x" + digest.hex()], "app")
    assert Account._recover_hash(digest, signature=signature) == address
    assert int(signature[-2:], 16) in (27, 28)

    auth = server.result("signers_signAuthorization", [{"chainId": CHAIN, "address": TO, "nonce": 0}, address], "app")
    from eth_account.typed_transactions.set_code_transaction import Authorization

    digest = Authorization(CHAIN, bytes.fromhex(TO[2:]), 0).hash()
    vrs = (int(auth["yParity"], 16), int(auth["r"], 16), int(auth["s"], 16))
    assert Account._recover_hash(digest, vrs=vrs) == address
