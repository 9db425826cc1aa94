"""Keys that cannot sign for Ethereum, and environments that cannot reach KMS, fail at load time with an
error that says what is wrong and what to do; none of them leaks a credential."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

import signers
from signers import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    KeyDisabledError,
    KeyNotFoundError,
    KeyUsageError,
    SignerError,
    WrongCurveError,
)
from tests.fixtures.localstack import KmsTestKey, LocalStack

Factory = Callable[..., KmsTestKey]


def _load_error(uri: str, **options: object) -> SignerError:
    with pytest.raises(SignerError) as caught:
        signers.load_signer(uri, **options)
    return caught.value


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "RSA_2048", "ECC_NIST_P384"])
def test_key_on_another_curve_or_algorithm(kms_key_factory: Factory, spec: str) -> None:
    key = kms_key_factory(spec)
    error = _load_error(key.uri)
    assert isinstance(error, WrongCurveError)
    assert spec in str(error) and "ECC_SECG_P256K1" in str(error) and key.key_id in str(error)
    assert "secp256k1" in error.hint


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
        ("ECC_SECG_P256K1", "ENCRYPT_DECRYPT"),
        ("RSA_2048", "ENCRYPT_DECRYPT"),
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
    ],
)
def test_key_not_for_signing(kms_key_factory: Factory, spec: str, usage: str) -> None:
    key = kms_key_factory(spec, usage)
    error = _load_error(key.uri)
    assert isinstance(error, KeyUsageError)
    assert usage in str(error) and "SIGN_VERIFY" in str(error)


def test_disabled_key(localstack: LocalStack, kms_key: KmsTestKey) -> None:
    localstack.client().disable_key(KeyId=kms_key.key_id)
    error = _load_error(kms_key.uri)
    assert isinstance(error, KeyDisabledError)
    assert "disabled" in str(error) and "enable" in error.hint


def test_key_disabled_after_loading_fails_the_signature(localstack: LocalStack, kms_key: KmsTestKey) -> None:
    with signers.load_signer(kms_key.uri) as signer:
        localstack.client().disable_key(KeyId=kms_key.key_id)
        with pytest.raises(KeyDisabledError, match="disabled"):
            signer.sign_digest(os.urandom(32))
        localstack.client().enable_key(KeyId=kms_key.key_id)
        digest = os.urandom(32)
        assert signer.sign_digest(digest).recover(digest) == kms_key.address


def test_key_pending_deletion(localstack: LocalStack, kms_key: KmsTestKey) -> None:
    localstack.client().schedule_key_deletion(KeyId=kms_key.key_id, PendingWindowInDays=7)
    error = _load_error(kms_key.uri)
    assert isinstance(error, KeyDisabledError)
    assert "pending deletion" in str(error) and "cancel" in error.hint


def test_key_pending_deletion_after_loading(localstack: LocalStack, kms_key: KmsTestKey) -> None:
    with signers.load_signer(kms_key.uri) as signer:
        localstack.client().schedule_key_deletion(KeyId=kms_key.key_id, PendingWindowInDays=7)
        with pytest.raises(KeyDisabledError) as caught:
            signer.sign_digest(os.urandom(32))
    assert "pending deletion" in str(caught.value) and "cancel" in caught.value.hint


def test_external_key_without_material(kms_key_factory: Factory) -> None:
    key = kms_key_factory(origin="EXTERNAL")
    error = _load_error(key.uri)
    assert isinstance(error, KeyDisabledError)
    assert "PendingImport" in str(error) and "import" in error.hint


@pytest.mark.parametrize("key", ["11111111-2222-3333-4444-555555555555", "alias/no-such-alias-anywhere"])
def test_unknown_key_or_alias(localstack: LocalStack, key: str) -> None:
    error = _load_error(localstack.uri(key))
    assert isinstance(error, KeyNotFoundError)
    assert key in str(error) and "us-east-1" in error.hint


@pytest.mark.parametrize("key", ["payments", "arn:aws:s3:::bucket", "alias/", "1234"])
def test_malformed_key_identifier(localstack: LocalStack, key: str) -> None:
    error = _load_error(localstack.uri(key))
    assert isinstance(error, ConfigurationError)
    assert "alias/NAME" in str(error)


def _no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_") and name not in ("AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED"):
            monkeypatch.delenv(name)
    # no shared files either, and no instance-metadata probe (it would wait for a timeout)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_missing_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kms_key: KmsTestKey) -> None:
    _no_credentials(monkeypatch, tmp_path)
    error = _load_error(kms_key.uri)
    assert isinstance(error, AuthenticationError)
    assert (
        "no AWS credentials" in str(error) and "AWS_ACCESS_KEY_ID" in error.hint and "never go in the URI" in error.hint
    )


def test_unknown_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kms_key: KmsTestKey) -> None:
    _no_credentials(monkeypatch, tmp_path)
    error = _load_error(kms_key.uri + "&profile=nobody")
    assert isinstance(error, ConfigurationError) and "profile=" in str(error) and "nobody" not in str(error)


def test_profile_from_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kms_key: KmsTestKey) -> None:
    _no_credentials(monkeypatch, tmp_path)
    (tmp_path / "credentials").write_text("[ops]\naws_access_key_id = test\naws_secret_access_key = test\n")
    with signers.load_signer(kms_key.uri + "&profile=ops") as signer:
        assert signer.address == kms_key.address
        assert "profile=ops" in signer.backend.describe()


def test_no_region(monkeypatch: pytest.MonkeyPatch, localstack: LocalStack, kms_key: KmsTestKey) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    error = _load_error(f"aws-kms://{kms_key.key_id}?endpoint-url={localstack.endpoint}")
    assert isinstance(error, ConfigurationError) and "region" in str(error) and "AWS_REGION" in error.hint


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint(localstack: LocalStack, kms_key: KmsTestKey) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    error = _load_error(localstack.uri(kms_key.key_id, endpoint=endpoint, **{"max-attempts": "2"}))
    assert type(error) is BackendUnavailableError
    assert endpoint in str(error) and "after 2 attempts" in str(error) and "nothing was signed" in error.hint


def test_secret_key_never_appears(monkeypatch: pytest.MonkeyPatch, localstack: LocalStack, kms_key: KmsTestKey) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETVALUE"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    with signers.load_signer(kms_key.uri) as signer:
        shown = [repr(signer), signer.backend.describe(), repr(signer.backend), str(signer.backend.custody())]
    error = _load_error(
        localstack.uri(kms_key.key_id, endpoint=f"http://127.0.0.1:{_closed_port()}", **{"max-attempts": "1"})
    )
    shown += [str(error), repr(error)]
    assert not [text for text in shown if secret in text or "SECRETVALUE" in text]
