"""Public-key formats from every custody service reduce to the same point and address."""

from __future__ import annotations

import coincurve
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account

from signers import ConfigurationError, PublicKey, WrongCurveError


def test_every_format_gives_the_eth_account_address() -> None:
    private = coincurve.PrivateKey()
    expected = Account.from_key(private.secret).address
    key = ec.derive_private_key(int.from_bytes(private.secret, "big"), ec.SECP256K1()).public_key()
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    pem = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    point = private.public_key.format(False)
    forms = [
        PublicKey.from_spki(spki),
        PublicKey.from_bytes(spki),
        PublicKey.from_pem(pem),
        PublicKey.from_bytes(b"\x04\x41" + point),  # PKCS#11 CKA_EC_POINT: DER OCTET STRING around the point
        PublicKey.from_bytes(point),
        PublicKey.from_bytes(point[1:]),
        PublicKey.from_bytes(private.public_key.format(True)),
    ]
    assert {k.address for k in forms} == {expected}
    assert PublicKey.from_spki(forms[0].to_spki()) == forms[0]
    assert forms[0].to_spki() == spki


@pytest.mark.parametrize(("curve", "name"), [(ec.SECP256R1(), "P-256"), (ec.SECP384R1(), "P-384")])
def test_other_curves_are_named_and_refused(curve: ec.EllipticCurve, name: str) -> None:
    spki = ec.generate_private_key(curve).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(WrongCurveError, match=name):
        PublicKey.from_spki(spki)


def test_rsa_is_refused() -> None:
    spki = (
        rsa.generate_private_key(65537, 2048).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(WrongCurveError, match="not an elliptic-curve key"):
        PublicKey.from_bytes(spki)


@pytest.mark.parametrize("data", [b"", b"\x05" * 10, b"\x04" + b"\x01" * 64, b"\x30\x03\x02\x01"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises((ConfigurationError, WrongCurveError)):
        PublicKey.from_bytes(data)


def test_pem_garbage_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        PublicKey.from_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----")
