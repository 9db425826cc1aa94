"""Every signing surface of signers.Signer, signed by a secp256k1 key in LocalStack KMS, recovers to the
key's address (signers.testing.conformance). The key has fixed material, so the address is known before KMS
is asked."""

from __future__ import annotations

import asyncio
import os

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

import signers
from signers import Signature, Signer
from signers.account import to_account
from signers.testing.conformance import SignerConformance, transactions
from tests.aws_kms.conftest import FIXED_ADDRESS, FIXED_PRIVATE_KEY
from tests.fixtures.localstack import KmsTestKey, LocalStack


def test_fixed_key_material_gives_the_expected_address(fixed_signer: Signer) -> None:
    assert fixed_signer.address == FIXED_ADDRESS == Account.from_key(FIXED_PRIVATE_KEY).address


class TestConformance(SignerConformance):
    @pytest.fixture
    def signer(self, fixed_signer: Signer) -> Signer:
        return fixed_signer


@pytest.mark.parametrize("kind", ["legacy", "eip2930", "eip1559", "eip7702"])
def test_transactions_have_eth_accounts_payload(fixed_signer: Signer, kind: str) -> None:
    """Same unsigned payload as eth-account's own signer: only (r, s, v) may differ (KMS uses random k)."""
    tx = transactions()[kind]
    ours, theirs = fixed_signer.sign_transaction(tx), Account.sign_transaction(tx, FIXED_PRIVATE_KEY)
    assert Account.recover_transaction(ours.raw_transaction) == Account.recover_transaction(theirs.raw_transaction)
    assert len(ours.raw_transaction) - len(theirs.raw_transaction) in range(-2, 3)


def test_eth_account_adapter(fixed_signer: Signer) -> None:
    account = to_account(fixed_signer)
    assert account.address == FIXED_ADDRESS
    signed = account.sign_message(encode_defunct(text="adapter"))
    assert Account.recover_message(encode_defunct(text="adapter"), signature=signed.signature) == FIXED_ADDRESS


async def test_concurrent_async_signatures_all_recover(fixed_signer: Signer) -> None:
    digests = [os.urandom(32) for _ in range(16)]
    results: list[Signature] = await asyncio.gather(*(fixed_signer.asign_digest(d) for d in digests))
    assert [s.recover(d) for s, d in zip(results, digests, strict=True)] == [FIXED_ADDRESS] * len(digests)


def test_key_id_alias_and_arn_uris_name_the_same_key(localstack: LocalStack, kms_key_factory: object) -> None:
    alias = f"alias/signing-{os.urandom(4).hex()}"
    key: KmsTestKey = kms_key_factory(alias=alias)  # type: ignore[operator]
    uris = [key.uri, localstack.uri(alias), localstack.uri(key.arn)]
    # an ARN names its region: the URI needs no region= (and a contradicting one is refused, see test_target)
    uris.append(f"aws-kms://{key.arn}?endpoint-url={localstack.endpoint}")
    for uri in uris:
        with signers.load_signer(uri) as signer:
            assert signer.address == key.address
            digest = os.urandom(32)
            assert signer.sign_digest(digest).recover(digest) == key.address


def test_fresh_key_fixture_uri_signs(aws_kms_uri: str) -> None:
    """The fixture the end-to-end tests use for their owner key."""
    with signers.load_signer(aws_kms_uri) as signer:
        digest = os.urandom(32)
        assert signer.sign_digest(digest).recover(digest) == signer.address
