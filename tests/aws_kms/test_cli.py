"""`signers aws-kms create | list | import` and `signers custody` against LocalStack."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import click
import pytest
import signers_aws_kms
from click.testing import CliRunner, Result
from eth_account import Account

import signers
from signers.cli import cli
from signers.plugins import get_plugin_manager
from tests.fixtures.localstack import LocalStack


@pytest.fixture(autouse=True, scope="module")
def _commands() -> None:
    signers_aws_kms.register_commands(cli)  # what `signers` (main) does at start-up through the hook


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _name() -> str:
    return f"cli-{secrets.token_hex(4)}"


def _sign_check(uri: str, address: str) -> None:
    with signers.load_signer(uri) as signer:
        assert signer.address == address
        digest = os.urandom(32)
        assert signer.sign_digest(digest).recover(digest) == address


def test_the_plugin_adds_its_group_through_the_hook() -> None:
    group = click.Group("signers")
    get_plugin_manager().hook.register_commands(cli=group)
    assert set(group.commands["aws-kms"].commands) == {"create", "list", "import"}  # type: ignore[attr-defined]


def test_create_with_alias_tags_and_policy(localstack: LocalStack, tmp_path: Path) -> None:
    alias = _name()
    policy = {
        "Version": "2012-10-17",
        "Id": "signers-test",
        "Statement": [
            {
                "Sid": "root",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    result = run(
        "aws-kms",
        "create",
        "--endpoint-url",
        localstack.endpoint,
        "--alias",
        alias,
        "--tag",
        "team=payments",
        "--tag",
        "env=test",
        "--policy-file",
        str(tmp_path / "policy.json"),
    )
    assert result.exit_code == 0, result.stderr
    address = result.stdout.strip()
    assert address.startswith("0x") and len(address) == 42
    assert f"alias/{alias}" in result.stderr  # where to find it, on stderr
    _sign_check(localstack.uri(f"alias/{alias}"), address)
    client = localstack.client()
    key_id = client.describe_key(KeyId=f"alias/{alias}")["KeyMetadata"]["KeyId"]
    tags = {t["TagKey"]: t["TagValue"] for t in client.list_resource_tags(KeyId=key_id)["Tags"]}
    assert tags == {"team": "payments", "env": "test"}
    assert json.loads(client.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])["Id"] == "signers-test"


def test_create_json_gives_a_usable_uri(localstack: LocalStack) -> None:
    result = run("aws-kms", "create", "--endpoint-url", localstack.endpoint, "--region", "us-east-1", "--json")
    assert result.exit_code == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["origin"] == "AWS_KMS" and created["alias"] is None
    _sign_check(created["uri"], created["address"])


def test_list_shows_keys_aliases_and_addresses(localstack: LocalStack) -> None:
    alias = _name()
    created = json.loads(
        run("aws-kms", "create", "--endpoint-url", localstack.endpoint, "--alias", alias, "--json").stdout
    )
    other = localstack.create_key("ECC_NIST_P256")
    listed = run("aws-kms", "list", "--endpoint-url", localstack.endpoint, "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = {row["key_id"]: row for row in json.loads(listed.stdout)}
    assert rows[created["key_id"]]["address"] == created["address"]
    assert rows[created["key_id"]]["aliases"] == [f"alias/{alias}"]
    assert other.key_id not in rows  # not a secp256k1 signing key
    every = {
        row["key_id"]: row
        for row in json.loads(run("aws-kms", "list", "--endpoint-url", localstack.endpoint, "--all", "--json").stdout)
    }
    assert every[other.key_id]["key_spec"] == "ECC_NIST_P256" and every[other.key_id]["address"] is None
    table = run("aws-kms", "list", "--endpoint-url", localstack.endpoint).stdout
    assert any(created["address"] in line and f"alias/{alias}" in line for line in table.splitlines())


def test_import_existing_key(localstack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    private_key = "0x" + secrets.token_hex(32)
    monkeypatch.setenv("SIGNERS_TEST_IMPORT_KEY", private_key)
    alias = _name()
    result = run(
        "aws-kms",
        "import",
        "--endpoint-url",
        localstack.endpoint,
        "--private-key-source",
        "env:SIGNERS_TEST_IMPORT_KEY",
        "--alias",
        alias,
        "--wrapping-key-spec",
        "RSA_2048",
    )
    assert result.exit_code == 0, result.stderr
    expected = Account.from_key(private_key).address
    assert result.stdout.strip() == expected
    assert private_key[2:] not in result.stdout + result.stderr
    uri = localstack.uri(f"alias/{alias}")
    _sign_check(uri, expected)
    custody = run("custody", uri, "--json")
    assert custody.exit_code == 0, custody.stderr
    facts = json.loads(custody.stdout)
    assert facts["origin"] == "EXTERNAL" and "imported" in facts["origin_meaning"]
    assert facts["address"] == expected and facts["state"] == "Enabled"


def test_import_refuses_a_bad_key_without_showing_it(localstack: LocalStack, tmp_path: Path) -> None:
    (tmp_path / "key").write_text("not-a-key-" + "7" * 54)
    result = run(
        "aws-kms", "import", "--endpoint-url", localstack.endpoint, "--private-key-source", f"file:{tmp_path / 'key'}"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "32-byte hex secp256k1 private key" in result.stderr
    assert "7777777" not in result.stderr


def test_custody_report(localstack: LocalStack) -> None:
    alias = _name()
    created = json.loads(
        run("aws-kms", "create", "--endpoint-url", localstack.endpoint, "--alias", alias, "--json").stdout
    )
    result = run("custody", created["uri"], "--json")
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["address"] == created["address"] and facts["custody"] == "AWS KMS"
    assert facts["origin"] == "AWS_KMS" and facts["key_manager"] == "CUSTOMER" and facts["multi_region"] is False
    assert (
        facts["state"] == "Enabled" and facts["key_spec"] == "ECC_SECG_P256K1" and facts["key_usage"] == "SIGN_VERIFY"
    )
    assert facts["aliases"] == [f"alias/{alias}"] and facts["arn"] == created["arn"] and facts["region"] == "us-east-1"
    assert facts["creation_date"][:2] == "20" and facts["extractable"] is False
    assert facts["key_policy"]["Statement"]
    plain = run("custody", created["uri"])
    assert any(line.startswith("origin") and "AWS_KMS" in line for line in plain.stdout.splitlines())


def test_custody_of_a_multi_region_key(localstack: LocalStack) -> None:
    created = json.loads(
        run("aws-kms", "create", "--endpoint-url", localstack.endpoint, "--multi-region", "--json").stdout
    )
    assert created["key_id"].startswith("mrk-")
    facts = json.loads(run("custody", created["uri"], "--json").stdout)
    assert facts["multi_region"] is True
    assert facts["multi_region_configuration"]["type"] == "PRIMARY"


def test_custody_never_shows_custom_key_material(localstack: LocalStack) -> None:
    key = localstack.create_key(private_key=bytes.fromhex("11" * 32))
    result = run("custody", key.uri, "--json")
    assert result.exit_code == 0 and "_custom_key_material_" not in result.stdout and "1111111111" not in result.stdout


def test_cli_errors_go_to_stderr(localstack: LocalStack) -> None:
    result = run("aws-kms", "create", "--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "cannot reach KMS" in result.stderr
    result = run("custody", localstack.uri("alias/does-not-exist"))
    assert result.exit_code == 1 and "error: " in result.stderr and "does-not-exist" in result.stderr
