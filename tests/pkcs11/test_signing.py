"""Every signing surface of signers.Signer, with a key generated inside SoftHSM2, recovers to its address."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

import signers
from signers import Signer

TYPED_DATA = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Mail": [{"name": "from", "type": "address"}, {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {"from": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826", "contents": "Hello, Bob!"},
}
TO = "0x000000000000000000000000000000000000dEaD"
BASE = {"nonce": 3, "to": TO, "value": 12345, "gas": 21000, "data": b"", "chainId": 1337}
TRANSACTIONS = {
    "legacy": {**BASE, "gasPrice": 10**9},
    "eip2930": {
        **BASE,
        "type": 1,
        "gasPrice": 10**9,
        "accessList": [{"address": TO, "storageKeys": ["0x" + "00" * 31 + "01"]}],
    },
    "eip1559": {**BASE, "type": 2, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9},
}


@pytest.fixture(scope="module")
def hsm_signer(softhsm) -> Signer:  # type: ignore[no-untyped-def]
    return signers.load_signer(softhsm.generate_key())


def test_sign_digest_recovers(hsm_signer: Signer) -> None:
    for i in range(20):  # ~half of SoftHSM's signatures are high-s: cover both, and the low-s rule
        digest = keccak(b"digest %d" % i)
        signature = hsm_signer.sign_digest(digest)
        assert signature.recover(digest) == hsm_signer.address
        assert signature.s <= signers.signature.HALF_N


def test_async_sign_digest_recovers(hsm_signer: Signer) -> None:
    digest = keccak(b"async")
    signature = asyncio.run(hsm_signer.asign_digest(digest))
    assert signature.recover(digest) == hsm_signer.address


def test_sign_message_recovers(hsm_signer: Signer) -> None:
    signed = hsm_signer.sign_message("hello from an HSM")
    assert Account.recover_message(encode_defunct(text="hello from an HSM"), signature=signed.signature) == (
        hsm_signer.address
    )
    raw = hsm_signer.sign_message(b"\x00\x01 bytes")
    assert Account.recover_message(encode_defunct(primitive=b"\x00\x01 bytes"), signature=raw.signature) == (
        hsm_signer.address
    )


def test_sign_typed_data_recovers(hsm_signer: Signer) -> None:
    signed = hsm_signer.sign_typed_data(full_message=TYPED_DATA)
    recovered = Account.recover_message(encode_typed_data(full_message=TYPED_DATA), signature=signed.signature)
    assert recovered == hsm_signer.address


@pytest.mark.parametrize("kind", sorted(TRANSACTIONS))
def test_sign_transaction_recovers(hsm_signer: Signer, kind: str) -> None:
    signed = hsm_signer.sign_transaction(TRANSACTIONS[kind])
    assert Account.recover_transaction(signed.raw_transaction) == hsm_signer.address


def test_sign_authorization_and_7702_transaction_recover(hsm_signer: Signer, softhsm) -> None:  # type: ignore[no-untyped-def]
    delegate = signers.load_signer(softhsm.generate_key())  # a second device key authorises the delegation
    authorization = delegate.sign_authorization({"chainId": 1337, "address": TO, "nonce": 0})
    assert to_checksum_address(authorization.authority) == delegate.address  # recovered by eth-account
    tx = {
        **BASE,
        "type": 4,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "authorizationList": [authorization],
    }
    signed = hsm_signer.sign_transaction(tx)
    assert Account.recover_transaction(signed.raw_transaction) == hsm_signer.address
    assert signed.raw_transaction[0] == 4


def test_signatures_match_the_public_key_object(hsm_signer: Signer, softhsm) -> None:  # type: ignore[no-untyped-def]
    """The address comes from the token's public key object, proven against a test signature."""
    custody = hsm_signer.backend.custody()
    assert custody["address"] == hsm_signer.address
    assert custody["public_key_source"] == "public key object"
    assert signers.PublicKey(bytes.fromhex(custody["public_key"])).address == hsm_signer.address
