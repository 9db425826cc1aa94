"""Issue 15 item 2 (core part): a private key, PIN or password put where a URI, a source name or a query goes
is refused without being echoed back: errors name the position and the rule, never the rejected text."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest
from eth_account import Account

import signers
from signers import SignerError
from signers.uri import parse
from tests.no_echo import assert_not_echoed

KEY = secrets.token_hex(32)  # a fresh private key per run: any echo of it is a leak, not a coincidence
PIN = "7" + secrets.token_hex(6)


@pytest.mark.parametrize(
    "uri",
    [
        KEY,  # a bare key pasted where the URI goes
        "0x" + KEY,
        f"local:{KEY}",
        f"local:0x{KEY}",
        f"local:env:{KEY}",  # a key where the variable's name goes
        f"local:env:0x{KEY}",
        f"local:keystore:{KEY}?password-source=env:PW",
        f"{KEY}:x",  # a key before the first ':' (read as a scheme)
        f"aws-kms://{KEY}?region=us-east-1",
        f"gcp-kms://{KEY}",
        f"local:env:K?{KEY}=1",  # a key as an attribute's name
        f"local:env:K?a{KEY}=1",  # (one that starts with a letter, whatever the key)
        f"local:env:K?0x{KEY}",
        f"pkcs11:token=t;object=k?pin-value={PIN}&",  # a query that fails to parse after the PIN
        f"pkcs11:token=t;object=k?module-path=/m.so&&pin-value={PIN}",
        f"pkcs11:token=t;object=k?pin-value={PIN}%zz",
        f"pkcs11:token=t;{PIN};object=k?module-path=/m.so",
        f"pkcs11:token=t;object=k;slot-id={PIN}x?module-path=/m.so",
        f"pkcs11:token=t;object=k;type={PIN}?module-path=/m.so",
        f"pkcs11:token=t;object=k;{PIN}=1?module-path=/m.so",
    ],
    ids=lambda uri: "uri",  # the secret must not reach pytest's output either
)
def test_a_secret_in_the_uri_is_not_echoed(uri: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SignerError) as info:
        signers.load_signer(uri)
    secret = PIN if PIN in uri else KEY
    assert_not_echoed(secret, info.value, caplog)


@pytest.mark.parametrize(
    "source", [f"env:{PIN}", f"file:{PIN}", f"file:/nonexistent/{PIN}", PIN], ids=["env", "file", "path", "plain"]
)
def test_a_password_typed_as_its_source_is_not_echoed(
    source: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    keystore = tmp_path / "k.json"
    keystore.write_text(json.dumps(Account.encrypt("0x" + "11" * 32, "pw", iterations=2)))
    with pytest.raises(signers.SecretSourceError, match="password-source") as info:
        signers.load_signer(f"local:keystore:{keystore}?password-source={source}")
    assert_not_echoed(PIN, info.value, caplog)


def test_a_signer_uri_repr_shows_no_value() -> None:
    uri = parse(f"pkcs11:token=t;object=k?pin-value={PIN}&module-path=/m.so")
    assert uri.query["pin-value"] == PIN  # parsed (for the backend to refuse) ...
    assert_not_echoed(PIN, None, None, repr(uri), str(uri))  # ... but never shown
    assert "pin-value" in repr(uri)


def test_errors_still_say_where(tmp_path: Path) -> None:
    """No echo is not no help: each error names the attribute or position and the rule."""
    cases = {
        f"local:env:{KEY}": "environment variable the URI names is not set",
        "local:env:K?a=1&": "attribute 2 is empty",
        "local:env:K?a=1&b": "attribute 2 is not name=value",
        "local:env:K?a=%zz": "attribute 1: malformed percent-encoding",
        "local:env:K?a=1&a=2": "attribute 2 repeats an earlier attribute",
        "local:env:K?region=x": "unknown URI attribute.*position 1",
        KEY: "no scheme",
    }
    for uri, text in cases.items():
        with pytest.raises(SignerError, match=text) as info:
            signers.load_signer(uri)
        assert info.value.hint  # and says what to do


def test_query_values_are_decoded_as_before() -> None:
    uri = parse("local:keystore:/k.json?password-source=file%3A%2Frun%2Fpw&x=a+b")
    assert uri.query == {"password-source": "file:/run/pw", "x": "a b"}


@pytest.mark.parametrize(
    "pasted",
    [KEY[:-1], KEY[:-2] + "zz", "0x" + KEY[:-1] + "g"],  # a key mistyped into a hex field: odd length, not hex
    ids=lambda _: "pasted",
)
def test_a_key_pasted_into_a_hex_field_is_not_echoed(pasted: str) -> None:
    """The AA layer's hex and quantity fields (a permission id, an address, a nonce) describe a bad value by
    its length or the position of the bad character, never by quoting it."""
    from signers.aa import AddressBook
    from signers.hexutil import parse_quantity, to_bytes

    for call, where in (
        (lambda: to_bytes(pasted, "permission_id", 32), "permission_id"),
        (lambda: parse_quantity(pasted, "nonce"), "nonce"),
        (lambda: AddressBook().with_overrides(smart_sessions=pasted), "AddressBook.smart_sessions"),
    ):
        with pytest.raises(SignerError, match=where) as info:
            call()
        assert_not_echoed(pasted, info.value)
        assert_not_echoed(pasted[2:] if pasted.startswith("0x") else pasted[1:], info.value)
