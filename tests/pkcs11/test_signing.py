"""Every signing surface of signers.Signer, with a key generated inside SoftHSM2, recovers to its address
(tests/surfaces.py), sync and async."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

import signers
from signers import Signer
from tests.surfaces import ASYNC_SURFACE_IDS, ASYNC_SURFACES, CHAIN_ID, SURFACE_IDS, SURFACES, TO


@pytest.fixture(scope="module")
def hsm_signer(softhsm) -> Signer:  # type: ignore[no-untyped-def]
    return signers.load_signer(softhsm.generate_key())


@pytest.mark.parametrize("surface", SURFACES, ids=SURFACE_IDS)
def test_every_surface_recovers(hsm_signer: Signer, surface: Callable[[Signer], None]) -> None:
    surface(hsm_signer)


@pytest.mark.parametrize("surface", ASYNC_SURFACES, ids=ASYNC_SURFACE_IDS)
async def test_every_async_surface_recovers(hsm_signer: Signer, surface: Callable[[Signer], Awaitable[None]]) -> None:
    await surface(hsm_signer)


def test_sign_authorization_and_7702_transaction_recover(hsm_signer: Signer, softhsm) -> None:  # type: ignore[no-untyped-def]
    delegate = signers.load_signer(softhsm.generate_key())  # a second device key authorises the delegation
    authorization = delegate.sign_authorization({"chainId": CHAIN_ID, "address": TO, "nonce": 0})
    assert to_checksum_address(authorization.authority) == delegate.address  # recovered by eth-account
    tx = {
        "nonce": 3,
        "to": TO,
        "value": 12345,
        "gas": 100_000,
        "chainId": CHAIN_ID,
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
