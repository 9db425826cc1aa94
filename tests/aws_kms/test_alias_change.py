"""An alias re-pointed to another key never yields a signature for an unexpected address: the signature is
discarded and KeyChangedError names both keys' addresses."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

import signers
from signers import KeyChangedError
from tests.aws_kms.fault_proxy import FaultProxy
from tests.fixtures.localstack import KmsTestKey, LocalStack

Factory = Callable[..., KmsTestKey]


def _alias() -> str:
    return f"alias/rotating-{os.urandom(4).hex()}"


def test_repointed_alias_is_detected_from_the_sign_response(localstack: LocalStack, kms_key_factory: Factory) -> None:
    alias = _alias()
    first, second = kms_key_factory(alias=alias), kms_key_factory()
    with signers.load_signer(localstack.uri(alias)) as signer:
        digest = os.urandom(32)
        assert signer.sign_digest(digest).recover(digest) == first.address
        localstack.client().update_alias(AliasName=alias, TargetKeyId=second.key_id)
        with pytest.raises(KeyChangedError) as caught:
            signer.sign_digest(os.urandom(32))
    error = caught.value
    assert error.expected == first.address and error.actual == second.address
    assert first.address in str(error) and second.address in str(error)
    assert first.key_id in str(error) and second.key_id in str(error)
    assert "load the signer again" in error.hint


def test_repointed_alias_is_detected_by_the_self_check(
    localstack: LocalStack, kms_key_factory: Factory, proxy: FaultProxy
) -> None:
    """A response that does not name the signing key: the core's self-check fails, the backend re-resolves
    the alias and turns the failure into KeyChangedError."""
    alias = _alias()
    first, second = kms_key_factory(alias=alias), kms_key_factory()
    with signers.load_signer(localstack.uri(alias, endpoint=proxy.endpoint)) as signer:
        localstack.client().update_alias(AliasName=alias, TargetKeyId=second.key_id)
        proxy.always("Sign", "strip-key-id")
        with pytest.raises(KeyChangedError) as caught:
            signer.sign_digest(os.urandom(32))
    assert caught.value.expected == first.address and caught.value.actual == second.address
    assert proxy.count("Sign", "strip-key-id") == 1


def test_alias_pointed_back_signs_again(localstack: LocalStack, kms_key_factory: Factory) -> None:
    alias = _alias()
    first, second = kms_key_factory(alias=alias), kms_key_factory()
    client = localstack.client()
    with signers.load_signer(localstack.uri(alias)) as signer:
        client.update_alias(AliasName=alias, TargetKeyId=second.key_id)
        with pytest.raises(KeyChangedError):
            signer.sign_digest(os.urandom(32))
        client.update_alias(AliasName=alias, TargetKeyId=first.key_id)
        digest = os.urandom(32)
        assert signer.sign_digest(digest).recover(digest) == first.address
