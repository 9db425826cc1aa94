"""Every signing surface of the core, signed by a Cloud KMS key version (the real google-cloud-kms client
against the emulator), recovers to the key's address: sync and async."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_keys.constants import SECPK1_N

import signers
from signers import Signer

TYPED = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Grant": [{"name": "session", "type": "address"}, {"name": "until", "type": "uint48"}],
    },
    "primaryType": "Grant",
    "domain": {"name": "Sessions", "chainId": 84532, "verifyingContract": "0x" + "cc" * 20},
    "message": {"session": "0x" + "ab" * 20, "until": 1_900_000_000},
}
TO = "0x" + "11" * 20


def transactions() -> list[dict[str, Any]]:
    base = {
        "to": Account.from_key("0x" + "01" * 32).address,
        "value": 5,
        "data": b"\x12",
        "nonce": 3,
        "gas": 90_000,
        "chainId": 84532,
    }
    access = [{"address": base["to"], "storageKeys": ["0x" + "00" * 31 + "07"]}]
    fees = {"maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9}
    auth = Account.sign_authorization({"chainId": 84532, "address": base["to"], "nonce": 4}, "0x" + "42" * 32)
    return [
        {**base, "gasPrice": 10**9},
        {**base, "gasPrice": 10**9, "accessList": access, "type": 1},
        {**base, **fees, "accessList": access},
        {**base, **fees, "authorizationList": [auth]},
    ]


@pytest.fixture(scope="module")
def signer(gcp_kms_uri: str) -> Iterator[Signer]:
    with signers.load_signer(gcp_kms_uri) as loaded:
        yield loaded


@pytest.fixture
async def async_signer(gcp_kms_uri: str) -> AsyncIterator[Signer]:
    loaded = signers.load_signer(gcp_kms_uri)
    yield loaded
    await loaded.backend.aclose()  # type: ignore[attr-defined]
    loaded.close()


def test_address_is_the_public_keys(signer: Signer, gcp_kms_emulator: Any, gcp_kms_key: str) -> None:
    from signers.keys import PublicKey

    pem = gcp_kms_emulator.client.get_public_key(request={"name": gcp_kms_key}, timeout=5).pem
    assert signer.address == PublicKey.from_pem(pem).address


def test_digest_many_low_s(signer: Signer) -> None:
    for _ in range(16):  # about half of Cloud KMS's raw signatures are high-s: the core must normalise them
        digest = os.urandom(32)
        signature = signer.sign_digest(digest)
        assert signature.recover(digest) == signer.address
        assert signature.s <= SECPK1_N // 2


def test_message(signer: Signer) -> None:
    signed = signer.sign_message("grant session 7")
    assert Account.recover_message(encode_defunct(text="grant session 7"), signature=signed.signature) == signer.address
    raw = signer.sign_message(b"\x00\xffbytes")
    assert (
        Account.recover_message(encode_defunct(primitive=b"\x00\xffbytes"), signature=raw.signature) == signer.address
    )


def test_typed_data(signer: Signer) -> None:
    signed = signer.sign_typed_data(full_message=TYPED)
    assert Account.recover_message(encode_typed_data(full_message=TYPED), signature=signed.signature) == signer.address


@pytest.mark.parametrize("index", range(4), ids=["legacy", "eip2930", "eip1559", "eip7702"])
def test_transaction(signer: Signer, index: int) -> None:
    tx = transactions()[index]
    signed = signer.sign_transaction(tx)
    assert Account.recover_transaction(signed.raw_transaction) == signer.address


def test_authorization(signer: Signer) -> None:
    signed = signer.sign_authorization({"chainId": 84532, "address": TO, "nonce": 9})
    assert signed.authority == bytes.fromhex(signer.address[2:])


async def test_async_every_surface(async_signer: Signer) -> None:
    signer = async_signer
    digest = os.urandom(32)
    assert (await signer.asign_digest(digest)).recover(digest) == signer.address
    signed = await signer.asign_message("async hello")
    assert Account.recover_message(encode_defunct(text="async hello"), signature=signed.signature) == signer.address
    typed = await signer.asign_typed_data(full_message=TYPED)
    assert Account.recover_message(encode_typed_data(full_message=TYPED), signature=typed.signature) == signer.address
    for tx in transactions():
        signed_tx = await signer.asign_transaction(tx)
        assert Account.recover_transaction(signed_tx.raw_transaction) == signer.address
    auth = await signer.asign_authorization({"chainId": 0, "address": TO, "nonce": 1})
    assert auth.authority == bytes.fromhex(signer.address[2:])


async def test_async_is_native_and_concurrent(async_signer: Signer, gcp_kms_emulator: Any) -> None:
    """asign goes through the async client (no thread): 32 signatures in flight at once all recover."""
    import asyncio

    import signers_gcp_kms

    assert type(async_signer.backend).asign is not signers.Backend.asign
    assert isinstance(async_signer.backend, signers_gcp_kms.GcpKmsBackend)
    digests = [os.urandom(32) for _ in range(32)]
    results = await asyncio.gather(*(async_signer.asign_digest(d) for d in digests))
    assert all(sig.recover(d) == async_signer.address for sig, d in zip(results, digests, strict=True))
