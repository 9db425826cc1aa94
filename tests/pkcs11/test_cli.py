"""`signers pkcs11 keygen | import | list | tokens` and the custody report, against the test token."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest
import signers_pkcs11
from click.testing import CliRunner
from eth_account import Account
from eth_hash.auto import keccak

import signers
from tests.fixtures.softhsm import SoftHSMToken


@pytest.fixture(scope="module")
def cli() -> click.Group:
    group = click.Group("signers")
    signers_pkcs11.register_commands(group)  # the hook the core's CLI calls
    return group


def invoke(cli: click.Group, softhsm: SoftHSMToken, *args: str) -> tuple[int, str, str]:
    env = {"PKCS11_MODULE": softhsm.module, "PKCS11_PIN_SOURCE": softhsm.pin_source}
    result = CliRunner().invoke(cli, ["pkcs11", *args], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_keygen_makes_a_sign_only_device_key(cli: click.Group, softhsm: SoftHSMToken) -> None:
    label = softhsm.new_label("cli")
    code, out, err = invoke(cli, softhsm, "keygen", "--token", softhsm.label, "--label", label, "--json")
    assert code == 0, err
    made = json.loads(out)
    signer = signers.load_signer(made["uri"])
    assert signer.address == made["address"]
    digest = keccak(b"cli key")
    assert signer.sign_digest(digest).recover(digest) == made["address"]

    custody = signer.backend.custody()
    json.dumps(custody)  # JSON-able as `signers custody --json` prints it
    key = custody["key"]
    assert key["curve"] == "secp256k1" and key["origin"] == "generated on the device, never extractable"
    assert key["attributes"]["EXTRACTABLE"] is False and key["attributes"]["SENSITIVE"] is True
    assert key["attributes"]["NEVER_EXTRACTABLE"] is True and key["attributes"]["ALWAYS_SENSITIVE"] is True
    assert key["attributes"]["LOCAL"] is True
    assert key["allowed_operations"] == {
        "SIGN": True,
        "SIGN_RECOVER": False,
        "DECRYPT": False,
        "UNWRAP": False,
        "DERIVE": False,
    }
    assert key["allowed_mechanisms"] == ["CKM_ECDSA"]
    assert custody["token"]["label"] == softhsm.label and custody["token"]["model"] == "SoftHSM v2"
    assert custody["token"]["manufacturer"] == "SoftHSM project"
    assert custody["warnings"] == [
        "SoftHSM is a software token: the key is a file encrypted under the PIN, not hardware"
    ]
    assert os.environ[softhsm.pin_env] not in json.dumps(custody)

    code, out, err = invoke(cli, softhsm, "keygen", "--token", softhsm.label, "--label", label)
    assert code == 1 and f"already has an object with label {label!r}" in err and err.startswith("error: ")


def test_import_is_reported_as_once_extractable(
    cli: click.Group, softhsm: SoftHSMToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = Account.create()
    monkeypatch.setenv("OLD_KEY", account.key.hex())
    label = softhsm.new_label("migrated")
    code, out, err = invoke(
        cli, softhsm, "import", "--token", softhsm.label, "--label", label, "--key-source", "env:OLD_KEY"
    )
    assert code == 0, err
    assert out.strip() == account.address
    assert "existed outside the HSM" in err and account.key.hex() not in out + err

    signer = signers.load_signer(softhsm.uri(object=label))
    assert signer.address == account.address
    signed = signer.sign_message("migrated key")
    assert (
        Account.recover_message(signers.hashing.as_signable("migrated key"), signature=signed.signature)
        == account.address
    )
    custody = signer.backend.custody()
    assert custody["key"]["origin"] == "imported: the key existed outside the device (once extractable)"
    assert custody["key"]["attributes"]["NEVER_EXTRACTABLE"] is False
    assert custody["key"]["attributes"]["LOCAL"] is False
    assert any("not generated on this token" in w for w in custody["warnings"])


def test_list_shows_keys_with_addresses(cli: click.Group, softhsm: SoftHSMToken) -> None:
    uri = softhsm.generate_key()
    address = signers.load_signer(uri).address
    code, out, err = invoke(cli, softhsm, "list", "--token", softhsm.label, "--json")
    assert code == 0, err
    rows = {row["address"]: row for row in json.loads(out)}
    assert rows[address]["origin"] == "generated on the device, never extractable"
    assert rows[address]["curve"] == "secp256k1"
    code, out, _ = invoke(cli, softhsm, "list", "--token", softhsm.label)
    assert address in out


def test_tokens(cli: click.Group, softhsm: SoftHSMToken) -> None:
    code, out, _ = invoke(cli, softhsm, "tokens", "--json")
    assert code == 0 and softhsm.label in [t["label"] for t in json.loads(out)]


def test_wrong_pin_in_a_fresh_process(softhsm: SoftHSMToken) -> None:
    """A process that logs in for the first time: the token itself refuses the PIN (CKR_PIN_INCORRECT)."""
    wrong = "1" + os.environ[softhsm.pin_env][1:] + "9"
    env = {**os.environ, **softhsm.environ(), "WRONG_PIN": wrong}
    result = subprocess.run(
        [sys.executable, "-m", "signers_pkcs11.cli", "list", "--token", softhsm.label, "--pin-source", "env:WRONG_PIN"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "wrong PIN" in result.stderr and "env:WRONG_PIN" in result.stderr
    assert wrong not in result.stderr + result.stdout
    assert os.environ[softhsm.pin_env] not in result.stderr + result.stdout


def _signers(softhsm: SoftHSMToken, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **softhsm.environ(), "PKCS11_PIN_SOURCE": softhsm.pin_source}
    return subprocess.run(
        [sys.executable, "-c", "from signers.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_signers_command_keygen_then_custody(softhsm: SoftHSMToken) -> None:
    """Through the core's `signers` command: the plugin's group is registered, custody --json is the report."""
    label = softhsm.new_label("signers-cli")
    made = _signers(softhsm, "pkcs11", "keygen", "--token", softhsm.label, "--label", label, "--json")
    assert made.returncode == 0, made.stderr
    uri = json.loads(made.stdout)["uri"]
    report = _signers(softhsm, "custody", uri, "--json")
    assert report.returncode == 0, report.stderr
    custody = json.loads(report.stdout)
    assert custody["address"] == json.loads(made.stdout)["address"]
    assert custody["key"]["attributes"]["EXTRACTABLE"] is False
    assert custody["key"]["attributes"]["NEVER_EXTRACTABLE"] is True
    assert custody["token"]["model"] == "SoftHSM v2"
    assert os.environ[softhsm.pin_env] not in report.stdout + report.stderr + made.stdout + made.stderr
