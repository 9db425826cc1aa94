"""The backend conformance kit: every signing surface of a Signer on a key of your backend, each checked by
recovering the signature with eth-account (an independent implementation) to the signer's address.

A backend author provides a ``signer`` fixture and subclasses ``SignerConformance``; pytest runs the rest:

    import pytest, signers
    from signers.testing.conformance import SignerConformance

    @pytest.fixture(scope="module")
    def signer():
        with signers.load_signer("my-scheme://my-key") as loaded:
            yield loaded

    class TestMyBackend(SignerConformance):
        pass

That runs: raw digests (both low-s paths), EIP-191 text and bytes, EIP-712, every transaction type eth-account
serialises (legacy, EIP-2930, EIP-1559, EIP-7702 with an authorization list), an EIP-7702 authorization, an
ERC-4337 v0.7 UserOperation, the ``a``-prefixed async twin of each, and bad digests (wrong length, not bytes)
refused with InvalidDigestError before the key is used. Override ``async_signer`` when the async client needs
its own event loop (function scope). The surfaces are also plain functions (SURFACES, ASYNC_SURFACES) for a
suite of your own shape. Async tests need pytest-asyncio (``signers[testing]`` brings it) in auto mode or
``asyncio_mode = "auto"``; the class marks its async tests itself.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import to_checksum_address

from signers import Signer
from signers.aa.user_operation import UserOperation, user_operation_hash
from signers.errors import InvalidDigestError
from signers.hashing import personal_sign_hash
from signers.signature import HALF_N

CHAIN_ID = 1337
TO = to_checksum_address("0x" + "5a" * 20)
ENTRY_POINT = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
TYPED_DATA: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Mail": [{"name": "to", "type": "address"}, {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Mail", "chainId": CHAIN_ID, "verifyingContract": "0x" + "cc" * 20},
    "message": {"to": TO, "contents": "hello from custody"},
}


def transactions() -> dict[str, dict[str, Any]]:
    """One transaction of every type eth-account serialises (blob transactions are covered in tests/core)."""
    base = {"to": TO, "value": 10**15, "data": b"\x01\x02", "nonce": 3, "gas": 100_000, "chainId": CHAIN_ID}
    access = [{"address": TO, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    fees = {"maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**9}
    auth = Account.sign_authorization({"chainId": CHAIN_ID, "address": TO, "nonce": 4}, "0x" + "42" * 32)
    return {
        "legacy": {**base, "gasPrice": 10**9},
        "eip2930": {**base, "gasPrice": 10**9, "accessList": access, "type": 1},
        "eip1559": {**base, **fees, "accessList": access},
        "eip7702": {**base, **fees, "authorizationList": [auth]},
    }


def user_operation(sender: str) -> UserOperation:
    return UserOperation(
        sender=sender,
        nonce=5,
        call_data=b"\xb6\x1d\x27\xf6",
        call_gas_limit=100_000,
        verification_gas_limit=200_000,
        pre_verification_gas=50_000,
        max_fee_per_gas=3 * 10**9,
        max_priority_fee_per_gas=10**9,
    )


def check_digest(signer: Signer, signature: Any, digest: bytes) -> None:
    assert signature.s <= HALF_N and signature.v in (27, 28)
    assert Account._recover_hash(digest, signature=signature.to_bytes()) == signer.address


def digest(signer: Signer) -> None:
    for _ in range(8):  # about half of a device's raw signatures are high-s: both paths, every time
        d = os.urandom(32)
        check_digest(signer, signer.sign_digest(d), d)


def message(signer: Signer) -> None:
    assert (
        Account.recover_message(encode_defunct(text="hi"), signature=signer.sign_message("hi").signature)
        == signer.address
    )
    raw = signer.sign_message(b"\x00\x01bytes").signature
    assert Account.recover_message(encode_defunct(primitive=b"\x00\x01bytes"), signature=raw) == signer.address


def typed_data(signer: Signer) -> None:
    signed = signer.sign_typed_data(full_message=TYPED_DATA)
    assert (
        Account.recover_message(encode_typed_data(full_message=TYPED_DATA), signature=signed.signature)
        == signer.address
    )


def transaction(signer: Signer) -> None:
    for kind, tx in transactions().items():
        signed = signer.sign_transaction(tx)
        assert Account.recover_transaction(signed.raw_transaction) == signer.address, kind


def authorization(signer: Signer) -> None:
    signed = signer.sign_authorization({"chainId": CHAIN_ID, "address": TO, "nonce": 9})
    assert to_checksum_address(signed.authority) == signer.address


def user_operation_signature(signer: Signer) -> None:
    op = user_operation(TO)
    signature = signer.sign_user_operation(op, ENTRY_POINT, CHAIN_ID)
    check_digest(signer, signature, personal_sign_hash(user_operation_hash(op, ENTRY_POINT, CHAIN_ID)))


SURFACES: list[Callable[[Signer], None]] = [
    digest,
    message,
    typed_data,
    transaction,
    authorization,
    user_operation_signature,
]
SURFACE_IDS = [f.__name__ for f in SURFACES]


async def adigest(signer: Signer) -> None:
    d = os.urandom(32)
    check_digest(signer, await signer.asign_digest(d), d)


async def amessage(signer: Signer) -> None:
    signed = await signer.asign_message("hi")
    assert Account.recover_message(encode_defunct(text="hi"), signature=signed.signature) == signer.address


async def atyped_data(signer: Signer) -> None:
    signed = await signer.asign_typed_data(full_message=TYPED_DATA)
    assert (
        Account.recover_message(encode_typed_data(full_message=TYPED_DATA), signature=signed.signature)
        == signer.address
    )


async def atransaction(signer: Signer) -> None:
    for kind, tx in transactions().items():
        signed = await signer.asign_transaction(tx)
        assert Account.recover_transaction(signed.raw_transaction) == signer.address, kind


async def aauthorization(signer: Signer) -> None:
    signed = await signer.asign_authorization({"chainId": CHAIN_ID, "address": TO, "nonce": 9})
    assert to_checksum_address(signed.authority) == signer.address


async def auser_operation(signer: Signer) -> None:
    op = user_operation(TO)
    signature = await signer.asign_user_operation(op, ENTRY_POINT, CHAIN_ID)
    check_digest(signer, signature, personal_sign_hash(user_operation_hash(op, ENTRY_POINT, CHAIN_ID)))


ASYNC_SURFACES: list[Callable[[Signer], Awaitable[None]]] = [
    adigest,
    amessage,
    atyped_data,
    atransaction,
    aauthorization,
    auser_operation,
]
ASYNC_SURFACE_IDS = [f.__name__ for f in ASYNC_SURFACES]


# not 32 bytes, or not bytes at all: refused by the core before any backend call
BAD_DIGESTS: list[Any] = [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32, bytearray(32)[:31], 0, None]
BAD_DIGEST_IDS = ["empty", "31-bytes", "33-bytes", "hex-text", "short-bytearray", "int", "none"]


class SignerConformance:
    """Every signing surface, sync and async, plus bad digests, against ``signer`` (a fixture you provide)."""

    @pytest.fixture
    def async_signer(self, signer: Signer) -> Signer:
        """The signer the async surfaces use; the same one unless a subclass overrides this fixture."""
        return signer

    @pytest.mark.parametrize("surface", SURFACES, ids=SURFACE_IDS)
    def test_every_surface_recovers(self, signer: Signer, surface: Callable[[Signer], None]) -> None:
        surface(signer)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("surface", ASYNC_SURFACES, ids=ASYNC_SURFACE_IDS)
    async def test_every_async_surface_recovers(
        self, async_signer: Signer, surface: Callable[[Signer], Awaitable[None]]
    ) -> None:
        await surface(async_signer)

    @pytest.mark.parametrize("bad", BAD_DIGESTS, ids=BAD_DIGEST_IDS)
    def test_bad_digest_is_refused(self, signer: Signer, bad: Any) -> None:
        with pytest.raises(InvalidDigestError) as refused:
            signer.sign_digest(bad)
        assert refused.value.hint  # says what to pass instead

    @pytest.mark.asyncio
    @pytest.mark.parametrize("bad", BAD_DIGESTS, ids=BAD_DIGEST_IDS)
    async def test_bad_digest_is_refused_async(self, async_signer: Signer, bad: Any) -> None:
        with pytest.raises(InvalidDigestError) as refused:
            await async_signer.asign_digest(bad)
        assert refused.value.hint
