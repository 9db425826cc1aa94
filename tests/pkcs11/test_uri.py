"""pkcs11: URIs per RFC 7512: attributes, percent-encoding, defaults, refusals."""

from __future__ import annotations

import pytest
from signers_pkcs11.uri import parse_pkcs11_uri

from signers import ConfigurationError
from signers.uri import parse


def test_label_id_module_and_pin_source() -> None:
    uri = parse_pkcs11_uri(
        parse("pkcs11:token=My%20Token;object=session%2F1;id=%01%FF?module-path=/opt/hsm/lib.so&pin-source=env:PIN")
    )
    assert (uri.token, uri.object, uri.id) == ("My Token", "session/1", b"\x01\xff")
    assert (uri.module_path, uri.pin_source) == ("/opt/hsm/lib.so", "env:PIN")
    again = parse_pkcs11_uri(parse(uri.text()))
    assert again == uri


def test_module_path_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKCS11_MODULE", "/usr/lib/vendor.so")
    uri = parse_pkcs11_uri(parse("pkcs11:token=t;id=%02?pin-source=file:/run/pin"))
    assert uri.module_path == "/usr/lib/vendor.so" and uri.object is None and uri.id == b"\x02"


def test_token_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKCS11_MODULE", "/m.so")
    uri = parse_pkcs11_uri(parse("pkcs11:serial=abc;manufacturer=ACME;model=X1;slot-id=3;object=k;type=private"))
    assert (uri.serial, uri.manufacturer, uri.model, uri.slot_id) == ("abc", "ACME", "X1", 3)
    assert "serial='abc'" in uri.token_selector()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pkcs11:token=t;object=k?pin-value=1234", "pin-value is refused"),
        ("pkcs11:token=t;object=k;object=j", "given twice"),
        ("pkcs11:token=t;object", "has no value"),
        ("pkcs11:token=t;object=k;type=public", "cannot sign"),
        ("pkcs11:token=t;object=k;slot-id=x", "slot-id must be a number"),
        ("pkcs11:token=t", "names no key"),
    ],
)
def test_refusals(text: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKCS11_MODULE", "/m.so")
    with pytest.raises(ConfigurationError, match=message) as info:
        parse_pkcs11_uri(parse(text))
    assert "1234" not in str(info.value)
