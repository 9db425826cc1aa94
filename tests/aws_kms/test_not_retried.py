"""Calls that are not idempotent are never retried blindly: a lost CreateKey answer must not make a second,
orphan key; a retried CreateAlias that had in fact succeeded is success. Real LocalStack behind the fault proxy."""

from __future__ import annotations

import json
import secrets

import pytest
import signers_aws_kms
from click.testing import CliRunner, Result

from signers.cli import cli
from tests.aws_kms.fault_proxy import FaultProxy
from tests.fixtures.localstack import LocalStack


@pytest.fixture(autouse=True, scope="module")
def _commands() -> None:
    signers_aws_kms.register_commands(cli)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _key_ids(localstack: LocalStack) -> set[str]:
    client, ids, marker = localstack.client(), set(), None
    while True:
        page = client.list_keys(**({"Marker": marker} if marker else {}))
        ids |= {key["KeyId"] for key in page["Keys"]}
        marker = page.get("NextMarker") if page.get("Truncated") else None
        if not marker:
            return ids


def test_lost_create_key_answer_makes_no_second_key(localstack: LocalStack, proxy: FaultProxy) -> None:
    before = _key_ids(localstack)
    proxy.inject("CreateKey", "lose-response")  # KMS creates the key, the answer never arrives
    result = run("aws-kms", "create", "--endpoint-url", proxy.endpoint)
    assert result.exit_code == 1
    assert "not retried" in result.stderr and "check" in result.stderr  # says what to do
    assert proxy.count("CreateKey") == 1
    assert len(_key_ids(localstack) - before) == 1  # the one KMS made; no orphan twin


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_ambiguous_create_key_failures_are_not_retried(localstack: LocalStack, proxy: FaultProxy, fault: str) -> None:
    proxy.inject("CreateKey", fault)  # KMS may or may not have acted: do not guess
    result = run("aws-kms", "create", "--endpoint-url", proxy.endpoint)
    assert result.exit_code == 1 and "not retried" in result.stderr
    assert proxy.count("CreateKey") == 1


def test_throttled_create_key_is_retried_once_safely(localstack: LocalStack, proxy: FaultProxy) -> None:
    """A throttled request was refused before KMS acted: retrying it cannot make a second key."""
    before = _key_ids(localstack)
    proxy.inject("CreateKey", "throttle")
    result = run("aws-kms", "create", "--endpoint-url", proxy.endpoint, "--json")
    assert result.exit_code == 0, result.stderr
    assert proxy.count("CreateKey") == 2
    assert _key_ids(localstack) - before == {json.loads(result.stdout)["key_id"]}


def test_lost_import_answer_is_not_imported_twice(
    localstack: LocalStack, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNERS_TEST_IMPORT_KEY", secrets.token_hex(32))
    before = _key_ids(localstack)
    proxy.inject("ImportKeyMaterial", "lose-response")
    result = run(
        "aws-kms",
        "import",
        "--endpoint-url",
        proxy.endpoint,
        "--private-key-source",
        "env:SIGNERS_TEST_IMPORT_KEY",
        "--wrapping-key-spec",
        "RSA_2048",
    )
    assert result.exit_code == 1 and "not retried" in result.stderr
    assert proxy.count("CreateKey") == 1 and proxy.count("ImportKeyMaterial") == 1
    assert len(_key_ids(localstack) - before) == 1


def test_retried_create_alias_that_had_succeeded_is_success(localstack: LocalStack, proxy: FaultProxy) -> None:
    alias = f"alias/retry-{secrets.token_hex(4)}"
    proxy.inject("CreateAlias", "lose-response")  # the alias is made; the retry meets AlreadyExistsException
    result = run("aws-kms", "create", "--endpoint-url", proxy.endpoint, "--alias", alias, "--json")
    assert result.exit_code == 0, result.stderr
    created = json.loads(result.stdout)
    assert proxy.count("CreateAlias") == 2
    assert localstack.client().describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == created["key_id"]


def test_alias_taken_by_another_key_is_an_error(localstack: LocalStack) -> None:
    alias = f"alias/taken-{secrets.token_hex(4)}"
    other = localstack.create_key(alias=alias)
    result = run("aws-kms", "create", "--endpoint-url", localstack.endpoint, "--alias", alias)
    assert result.exit_code == 1
    assert f"points at key {other.key_id}" in result.stderr and "choose another --alias" in result.stderr
