"""Issue 15 items 2 and 10 (PKCS#11): malformed percent-encoding anywhere in a pkcs11: URI is refused (``id=%zz``
was taken as the bytes "%zz"); a PIN typed where its source or a URI attribute goes is never echoed back."""

from __future__ import annotations

import logging
import secrets

import pytest
from signers_pkcs11.uri import parse_pkcs11_uri

import signers
from signers import ConfigurationError, SecretSourceError, SignerError
from signers.uri import parse
from tests.fixtures.softhsm import SoftHSMToken
from tests.no_echo import assert_not_echoed

PIN = "9" + secrets.token_hex(5)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("pkcs11:token=t;id=%zz", "id"),
        ("pkcs11:token=t;id=%0", "id"),
        ("pkcs11:token=t;id=%01%", "id"),
        ("pkcs11:token=t%2;object=k", "token"),
        ("pkcs11:token=t;object=k%G1", "object"),
        ("pkcs11:serial=%;object=k", "serial"),
        ("pkcs11:token=t;object=k;slot-id=%3", "slot-id"),
        ("pkcs11:token=t;object=k?module-path=/opt/%zz.so", "query attribute 1"),
        ("pkcs11:token=t;object=k?module-path=/m.so&pin-source=env:%P", "query attribute 2"),
    ],
)
def test_malformed_percent_encoding_is_refused(text: str, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKCS11_MODULE", "/m.so")
    with pytest.raises(ConfigurationError, match=f"{where}: malformed percent-encoding") as info:
        parse_pkcs11_uri(parse(text))
    assert "two hex digits" in info.value.hint


def test_well_formed_escapes_still_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKCS11_MODULE", "/m.so")
    uri = parse_pkcs11_uri(parse("pkcs11:token=a%25b;id=%00%7f%Ff;object=%C3%A9"))
    assert (uri.token, uri.id, uri.object) == ("a%b", b"\x00\x7f\xff", "\u00e9")
    with pytest.raises(ConfigurationError, match="object is not UTF-8"):
        parse_pkcs11_uri(parse("pkcs11:token=t;object=%ff"))


@pytest.mark.parametrize(
    "pin_source", [f"env:{PIN}", f"file:{PIN}", f"file:/nonexistent/{PIN}", PIN], ids=["env", "file", "path", "plain"]
)
def test_a_pin_typed_as_its_source_is_not_echoed(
    pin_source: str, softhsm: SoftHSMToken, caplog: pytest.LogCaptureFixture
) -> None:
    uri = softhsm.generate_key().replace(f"pin-source={softhsm.pin_source}", f"pin-source={pin_source}")
    assert pin_source in uri
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SecretSourceError, match="pin-source") as info, signers.load_signer(uri) as signer:
        signer.sign_digest(bytes(32))  # a PIN read at the first signature fails there
    assert_not_echoed(PIN, info.value, caplog)


@pytest.mark.parametrize(
    "query",
    [f"pin-value={PIN}&", f"pin-value={PIN}&&pin-source=env:X", f"&pin-value={PIN}", f"pin-value={PIN}%"],
    ids=["trailing", "double", "leading", "percent"],
)
def test_a_pin_value_in_a_query_that_fails_to_parse_is_not_echoed(
    query: str, softhsm: SoftHSMToken, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SignerError) as info:
        signers.load_signer(f"pkcs11:token={softhsm.label};object=k?{query}")
    assert_not_echoed(PIN, info.value, caplog)
