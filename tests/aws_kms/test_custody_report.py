"""The AWS KMS custody report against LocalStack: each warning where it should be, none where it should not."""

from __future__ import annotations

import json
import secrets

import pytest
from click.testing import CliRunner
from eth_account import Account
from eth_hash.auto import keccak
from signers_aws_kms.custody import warnings

import signers
from signers.cli import cli
from signers.custody import CustodyReport, disabled, imported
from tests.fixtures.localstack import LocalStack


def _signed(signer: signers.Signer) -> None:
    digest = keccak(b"custody report")
    assert signer.sign_digest(digest).recover(digest) == signer.address  # the key behind the report signs


def test_a_key_made_in_kms_has_no_warning(localstack: LocalStack) -> None:
    key = localstack.create_key()
    with signers.load_signer(key.uri) as signer:
        _signed(signer)
        report = signer.backend.custody()
    assert isinstance(report, CustodyReport) and report.address == key.address
    assert (report.kind, report.extractable, report.generated_in_hardware) == ("cloud-kms", False, True)
    assert report.state == "Enabled" and report.warnings == ()
    assert report["key_id"] == key.key_id and report["origin"] == "AWS_KMS"


def test_a_disabled_key_is_reported_and_warned(localstack: LocalStack) -> None:
    key = localstack.create_key()
    with signers.load_signer(key.uri) as signer:
        _signed(signer)
        localstack.client().disable_key(KeyId=key.key_id)
        report = signer.backend.custody()
    assert report.state == "Disabled" and report.warnings == (disabled("Disabled"),)
    assert report.address == key.address  # the address the signer was loaded with: a disabled key tells none


def test_an_imported_key_is_warned(localstack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    private_key = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("SIGNERS_TEST_CUSTODY_KEY", private_key)
    made = CliRunner().invoke(
        cli,
        ["aws-kms", "import", "--endpoint-url", localstack.endpoint, "--json", "--wrapping-key-spec", "RSA_2048",
         "--private-key-source", "env:SIGNERS_TEST_CUSTODY_KEY"],
        catch_exceptions=False,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    with signers.load_signer(json.loads(made.stdout)["uri"]) as signer:
        _signed(signer)
        report = signer.backend.custody()
    assert report.address == Account.from_key(private_key).address
    assert report.generated_in_hardware is False
    assert report.warnings == (imported("Origin EXTERNAL, bring your own key material"),)
    assert private_key[2:] not in json.dumps(report)


def test_a_key_usage_beyond_signing_is_warned(localstack: LocalStack) -> None:
    """A key that cannot be loaded as a signer (it encrypts) still gets its warning from the same function."""
    key = localstack.create_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    metadata = localstack.client().describe_key(KeyId=key.key_id)["KeyMetadata"]
    assert warnings(metadata) == ("KeyUsage ENCRYPT_DECRYPT is allowed: the key is not sign-only",)
