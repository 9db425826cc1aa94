"""Every signing surface of signers.Signer, with a key generated inside SoftHSM2, recovers to its address
(the conformance kit, signers.testing.conformance), sync and async."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

import signers
from signers import Signer
from signers.testing.conformance import CHAIN_ID, TO, SignerConformance


@pytest.fixture(scope="module")
def hsm_signer(softhsm) -> Signer:  # type: ignore[no-untyped-def]
    return signers.load_signer(softhsm.generate_key())


class TestConformance(SignerConformance):
    @pytest.fixture
    def signer(self, hsm_signer: Signer) -> Signer:
        return hsm_signer


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
