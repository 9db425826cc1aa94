"""The local backend through the core gives the same bytes as eth-account's own LocalAccount, on every surface.

Both sign deterministically (RFC 6979), so any difference in hashing, low-s, v or serialisation shows up."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_intended_validator
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

import signers
from signers import ChainIdMismatchError, Signer

ROUNDS = 25


@pytest.fixture
def pair(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Signer, object]]:
    key = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("SIGNERS_TEST_KEY", key)
    yield signers.load_signer("local:env:SIGNERS_TEST_KEY"), Account.from_key(key)


def fresh_pair() -> tuple[Signer, object]:
    key = "0x" + secrets.token_hex(32)
    os.environ["SIGNERS_TEST_KEY"] = key
    return signers.load_signer("local:env:SIGNERS_TEST_KEY"), Account.from_key(key)


@settings(max_examples=ROUNDS, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_digest(digest: bytes) -> None:
    signer, account = fresh_pair()
    assert signer.sign_digest(digest).to_bytes() == bytes(account.unsafe_sign_hash(digest).signature)


@settings(max_examples=ROUNDS, deadline=None)
@given(st.text(), st.binary())
def test_messages(text: str, data: bytes) -> None:
    signer, account = fresh_pair()
    assert signer.sign_message(text) == account.sign_message(encode_defunct(text=text))
    assert signer.sign_message(data) == account.sign_message(encode_defunct(primitive=data))
    validator = encode_intended_validator(validator_address=bytes.fromhex("ab" * 20), primitive=data)
    assert signer.sign_message(validator) == account.sign_message(validator)


MAIL = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person[]"},
            {"name": "contents", "type": "string"},
            {"name": "amount", "type": "uint256"},
        ],
    },
    "primaryType": "Mail",
}


@settings(max_examples=ROUNDS, deadline=None)
@given(st.text(max_size=40), st.integers(min_value=0, max_value=2**256 - 1), st.integers(1, 2**32))
def test_typed_data(contents: str, amount: int, chain_id: int) -> None:
    signer, account = fresh_pair()
    person = {"name": "Cow", "wallet": "0x" + secrets.token_hex(20)}
    message = {
        **MAIL,
        "domain": {"name": "Mail", "version": "1", "chainId": chain_id, "verifyingContract": "0x" + "cc" * 20},
        "message": {"from": person, "to": [person, person], "contents": contents, "amount": amount},
    }
    assert signer.sign_typed_data(full_message=message) == account.sign_typed_data(full_message=message)
    domain, types, data = (
        message["domain"],
        {k: v for k, v in MAIL["types"].items() if k != "EIP712Domain"},
        message["message"],
    )
    assert signer.sign_typed_data(domain, types, data) == account.sign_typed_data(domain, types, data)


def transactions(chain_id: int, nonce: int, value: int, data: bytes) -> list[dict[str, object]]:
    to = to_checksum_address("0x" + secrets.token_hex(20))
    base = {"to": to, "value": value, "data": data, "nonce": nonce, "gas": 100_000, "chainId": chain_id}
    access = [{"address": to, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    fees = {"maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**9}
    auth = Account.sign_authorization({"chainId": chain_id, "address": to, "nonce": nonce + 1}, "0x" + "42" * 32)
    return [
        {**base, "gasPrice": 10**9},  # legacy, EIP-155
        {**base, "gasPrice": 10**9, "accessList": access, "type": 1},  # EIP-2930
        {**base, **fees, "accessList": access},  # EIP-1559
        {**base, **fees, "authorizationList": [auth]},  # EIP-7702
    ]


@settings(max_examples=ROUNDS, deadline=None)
@given(st.integers(1, 2**40), st.integers(0, 2**32), st.integers(0, 10**24), st.binary(max_size=64))
def test_transactions_of_every_type(chain_id: int, nonce: int, value: int, data: bytes) -> None:
    signer, account = fresh_pair()
    for tx in transactions(chain_id, nonce, value, data):
        assert signer.sign_transaction(tx) == account.sign_transaction(tx), tx


def test_blob_transaction(pair: tuple[Signer, object]) -> None:
    signer, account = pair
    tx = {
        "to": to_checksum_address("0x" + "11" * 20),
        "value": 0,
        "nonce": 0,
        "gas": 100_000,
        "chainId": 1,
        "maxFeePerGas": 10**9,
        "maxPriorityFeePerGas": 10**9,
        "maxFeePerBlobGas": 10**9,
    }
    blobs = [b"\x00" * 131072]
    assert signer.sign_transaction(tx, blobs=blobs) == account.sign_transaction(tx, blobs=blobs)


@settings(max_examples=ROUNDS, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 2))  # EIP-2294 chain ids; EIP-7702 nonce < 2**64 - 1
def test_authorization(chain_id: int, nonce: int) -> None:
    signer, account = fresh_pair()
    auth = {"chainId": chain_id, "address": "0x" + secrets.token_hex(20), "nonce": nonce}
    ours, theirs = signer.sign_authorization(auth, allow_all_chains=chain_id == 0), account.sign_authorization(auth)
    assert ours == theirs
    assert ours.authority == bytes.fromhex(signer.address[2:])


async def test_async_twins_match(pair: tuple[Signer, object]) -> None:
    signer, account = pair
    digest = os.urandom(32)
    assert (await signer.asign_digest(digest)).to_bytes() == bytes(account.unsafe_sign_hash(digest).signature)
    assert await signer.asign_message("hi") == account.sign_message(encode_defunct(text="hi"))
    tx = transactions(7, 0, 1, b"")[2]
    assert await signer.asign_transaction(tx) == account.sign_transaction(tx)
    auth = {"chainId": 7, "address": "0x" + "22" * 20, "nonce": 0}
    assert await signer.asign_authorization(auth) == account.sign_authorization(auth)


def test_chain_id_mismatch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNERS_TEST_KEY", "0x" + "11" * 32)
    signer = signers.load_signer("local:env:SIGNERS_TEST_KEY", chain_id=1)
    tx = transactions(5, 0, 0, b"")[0]
    with pytest.raises(ChainIdMismatchError, match="chain 5"):
        signer.sign_transaction(tx)
    with pytest.raises(ChainIdMismatchError, match="chain 5"):
        signer.sign_authorization({"chainId": 5, "address": "0x" + "22" * 20, "nonce": 0})
    with pytest.raises(ChainIdMismatchError, match="chain 0"):  # valid on every chain: not for a pinned signer
        signer.sign_authorization({"chainId": 0, "address": "0x" + "22" * 20, "nonce": 0})
    unpinned = signers.load_signer("local:env:SIGNERS_TEST_KEY")
    auth = {"chainId": 0, "address": "0x" + "22" * 20, "nonce": 0}
    assert unpinned.sign_authorization(auth, allow_all_chains=True).chain_id == 0  # an explicit opt-in


def test_transaction_without_chain_id_is_refused(pair: tuple[Signer, object]) -> None:
    signer, _ = pair
    with pytest.raises(ChainIdMismatchError, match="every chain"):
        signer.sign_transaction({"to": "0x" + "11" * 20, "value": 0, "nonce": 0, "gas": 21000, "gasPrice": 1})


def test_from_field_must_be_the_signer(pair: tuple[Signer, object]) -> None:
    signer, account = pair
    tx = {**transactions(1, 0, 0, b"")[2], "from": signer.address}
    assert signer.sign_transaction(tx) == account.sign_transaction(tx)
    with pytest.raises(signers.ConfigurationError, match="this signer is"):
        signer.sign_transaction({**tx, "from": "0x" + "11" * 20})
