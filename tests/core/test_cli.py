"""The `signers` command, run as a user runs it: a subprocess, stdout for results, stderr for errors."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct

KEY = "0x" + secrets.token_hex(32)
ADDRESS = Account.from_key(KEY).address
SIGNERS = str(Path(sys.executable).with_name("signers"))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLI_KEY": KEY}
    return subprocess.run([SIGNERS, *args], capture_output=True, text=True, env=env, input=stdin, timeout=60)


def test_backends_lists_local() -> None:
    out = run("backends", "--json")
    assert out.returncode == 0, out.stderr
    assert "local" in json.loads(out.stdout)


def test_address_and_local_warning() -> None:
    out = run("address", "local:env:CLI_KEY")
    assert out.returncode == 0
    assert out.stdout.strip() == ADDRESS
    assert "development and tests only" in out.stderr


def test_sign_message_json_recovers() -> None:
    out = run("sign", "local:env:CLI_KEY", "--message", "hello", "--json")
    data = json.loads(out.stdout)
    assert Account.recover_message(encode_defunct(text="hello"), signature=data["signature"]) == ADDRESS


def test_sign_digest_recovers() -> None:
    digest = secrets.token_bytes(32)
    data = json.loads(run("sign", "local:env:CLI_KEY", "--digest", "0x" + digest.hex(), "--json").stdout)
    assert Account._recover_hash(digest, signature=data["signature"]) == ADDRESS


def test_sign_typed_data_and_tx_from_files(tmp_path: Path) -> None:
    typed = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}], "Msg": [{"name": "x", "type": "uint256"}]},
        "primaryType": "Msg",
        "domain": {"name": "t"},
        "message": {"x": 7},
    }
    (tmp_path / "typed.json").write_text(json.dumps(typed))
    data = json.loads(run("sign", "local:env:CLI_KEY", "--typed-data", str(tmp_path / "typed.json"), "--json").stdout)
    assert data["signature"] == Account.sign_typed_data(KEY, full_message=typed).signature.to_0x_hex()
    tx = {
        "to": ADDRESS,
        "value": 1,
        "gas": 21000,
        "maxFeePerGas": 2,
        "maxPriorityFeePerGas": 1,
        "nonce": 0,
        "chainId": 31337,
    }
    data = json.loads(run("sign", "local:env:CLI_KEY", "--tx", "-", "--json", stdin=json.dumps(tx)).stdout)
    assert data["raw_transaction"] == Account.sign_transaction(tx, KEY).raw_transaction.to_0x_hex()
    assert Account.recover_transaction(data["raw_transaction"]) == ADDRESS


def test_errors_go_to_stderr_with_status() -> None:
    bad = run("sign", "local:env:CLI_KEY", "--digest", "00")
    assert bad.returncode == 1 and bad.stdout == "" and "error: digest must be 32 bytes" in bad.stderr
    missing = run("address", "local:env:NOT_SET_ANYWHERE")
    assert missing.returncode == 1 and "not set" in missing.stderr
    usage = run("sign", "local:env:CLI_KEY")
    assert usage.returncode == 2 and "exactly one" in usage.stderr
    mismatch = run(
        "sign",
        "local:env:CLI_KEY",
        "--chain-id",
        "1",
        "--tx",
        "-",
        stdin=json.dumps({"to": ADDRESS, "value": 0, "gas": 21000, "gasPrice": 1, "nonce": 0, "chainId": 5}),
    )
    assert mismatch.returncode == 1 and "chain 5" in mismatch.stderr
    assert KEY[2:] not in bad.stderr + missing.stderr + mismatch.stderr


def test_custody_report() -> None:
    data = json.loads(run("custody", "local:env:CLI_KEY", "--json").stdout)
    assert data["address"] == ADDRESS and data["extractable"] is True


def test_audit_command_shows_signatures(tmp_path: Path) -> None:
    db = str(tmp_path / "audit.db")

    def env_run(*a):
        return subprocess.run(
            [SIGNERS, *a],
            capture_output=True,
            text=True,
            timeout=60,  # noqa: E731
            env={**os.environ, "CLI_KEY": KEY, "SIGNERS_AUDIT_DB": db},
        )

    signed = json.loads(env_run("sign", "local:env:CLI_KEY", "--message", "audited", "--json").stdout)
    lines = env_run("audit", "--json").stdout.splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["outcome"], entry["address"], entry["signature"], entry["kind"]) == (
        "signed",
        ADDRESS,
        signed["signature"],
        "message",
    )
    assert entry["digest"] == signed["message_hash"]
    assert KEY[2:] not in lines[0]
    assert env_run("audit", "--outcome", "refused").stdout == ""


def test_bad_input_is_an_error_line_never_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "typed.json").write_text(json.dumps({"types": {}, "domain": {}, "message": {}}))
    (tmp_path / "keystore.json").write_text(json.dumps({"crypto": {}}))
    (tmp_path / "notsqlite.db").write_bytes(b"this is not a database" * 100)
    (tmp_path / "pw").write_bytes(b"\xffsecret-bytes")
    keystore = f"local:keystore:{tmp_path / 'keystore.json'}"
    cases = [
        (("sign", "local:env:CLI_KEY", "--tx", str(tmp_path / "list.json")), "must be a mapping"),
        (("sign", "local:env:CLI_KEY", "--typed-data", str(tmp_path / "typed.json")), "cannot encode the EIP-712"),
        (
            ("address", f"{keystore}?password-source=file:{tmp_path / 'pw'}"),
            "not UTF-8",
        ),
        (("address", f"{keystore}?password-source=env:CLI_KEY"), "not a Web3 Secret"),
        (("audit", "--db", str(tmp_path / "notsqlite.db")), "not an SQLite database"),
    ]
    for args, message in cases:
        out = run(*args)
        assert out.returncode == 1, (args, out.stderr)
        assert "Traceback" not in out.stderr and out.stdout == ""
        assert "error: " in out.stderr and message in out.stderr, (args, out.stderr)
        assert "secret-bytes" not in out.stderr and "\\xff" not in out.stderr
