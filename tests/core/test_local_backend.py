"""The local-key backend: env and keystore sources, errors that say what to do, no secret in sight."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest
from eth_account import Account

import signers
from signers import AuthenticationError, ConfigurationError, KeyNotFoundError, SecretSourceError
from signers.secrets import read_secret


def test_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = secrets.token_hex(32)
    monkeypatch.setenv("K1", key)
    signer = signers.load_signer("local:env:K1")
    assert signer.address == Account.from_key(key).address
    assert key not in repr(signer) and key not in repr(signer.backend) and key not in str(signer.backend.custody())


def test_keystore_with_password_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "0x" + secrets.token_hex(32)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(Account.encrypt(key, "correct horse", iterations=2)))
    (tmp_path / "pw").write_text("correct horse\n")
    monkeypatch.setenv("PW", "correct horse")
    for source in ("env:PW", f"file:{tmp_path / 'pw'}"):
        signer = signers.load_signer(f"local:keystore:{path}?password-source={source}")
        assert signer.address == Account.from_key(key).address
    monkeypatch.setenv("PW", "wrong")
    with pytest.raises(AuthenticationError, match="password is wrong") as info:
        signers.load_signer(f"local:keystore:{path}?password-source=env:PW")
    assert "wrong" not in str(info.value).replace("password is wrong", "")


@pytest.mark.parametrize(
    ("uri", "error", "text"),
    [
        ("local:env:SIGNERS_UNSET_VAR", KeyNotFoundError, "not set"),
        ("local:keystore:/nonexistent/k.json?password-source=env:PW", KeyNotFoundError, "No such file"),
        ("local:keystore:{ks}?password-source=pw", SecretSourceError, "plain text"),
        ("local:keystore:{ks}", SecretSourceError, "password-source"),
        ("local:env:BADKEY", ConfigurationError, "32-byte hex"),
        ("local:env:K?region=x", ConfigurationError, "unknown URI attribute"),
        ("local:file:x", ConfigurationError, "local:env:NAME"),
    ],
)
def test_errors_say_what_to_do(
    uri: str, error: type, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ks = tmp_path / "k.json"
    ks.write_text(json.dumps(Account.encrypt("0x" + "11" * 32, "pw", iterations=2)))
    monkeypatch.setenv("BADKEY", "zz")
    monkeypatch.setenv("K", "11" * 32)
    monkeypatch.setenv("PW", "pw")
    with pytest.raises(error, match=text):
        signers.load_signer(uri.format(ks=ks))


def test_secret_never_shows(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PIN", "s3cr3t-pin")
    secret = read_secret("env:PIN", "pin")
    logging.getLogger("test").warning("secret is %s %r", secret, secret)
    assert secret.reveal() == "s3cr3t-pin"
    assert "s3cr3t" not in repr(secret) + str(secret) + caplog.text
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)
