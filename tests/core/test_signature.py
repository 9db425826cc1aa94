"""Signature conversion: DER and r||s from any backend -> low-s Ethereum signatures that recover to the key."""

from __future__ import annotations

import contextlib
import os

import coincurve
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signers import (
    InvalidDigestError,
    MalformedSignatureError,
    PublicKey,
    Signature,
    SignatureVerificationError,
)
from signers.signature import HALF_N, N

KEY = ec.generate_private_key(ec.SECP256K1())
PUB = PublicKey.from_spki(KEY.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
OTHER = PublicKey(coincurve.PrivateKey().public_key.format(False))


def der_sign(digest: bytes, key: ec.EllipticCurvePrivateKey = KEY) -> bytes:
    """A DER signature with a random nonce, as a KMS returns it (about half are high-s)."""
    return key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def der_int(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8 or 1, "big")
    return b"\x02" + bytes([len(body)]) + body


def der_seq(*parts: bytes) -> bytes:
    body = b"".join(parts)
    return b"\x30" + bytes([len(body)]) + body


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=32, max_size=32))
def test_der_from_random_nonces_is_low_s_and_recovers(digest: bytes) -> None:
    der = der_sign(digest)
    for expected in (PUB, PUB.address, PUB.address_bytes):
        sig = Signature.from_der(der, digest, expected)
        assert sig.s <= HALF_N
        assert sig.v in (27, 28)
        assert sig.recover(digest) == PUB.address
        # the same check through an independent implementation: coincurve's recovery
        recovered = coincurve.PublicKey.from_signature_and_message(
            sig.to_bytes()[:64] + bytes([sig.y_parity]), digest, hasher=None
        )
        assert recovered.format(False) == PUB.point


def test_high_s_is_normalised_and_both_parities_occur() -> None:
    seen_high, parities = 0, set()
    for _ in range(64):
        digest = os.urandom(32)
        r, s = utils.decode_dss_signature(der_sign(digest))
        seen_high += s > HALF_N
        sig = Signature.from_der(der_sign(digest), digest, PUB)
        parities.add(sig.v)
        assert sig.s <= HALF_N
    assert seen_high > 0, "the test key never produced a high-s signature: the normalisation went untested"
    assert parities == {27, 28}


def test_high_s_input_gives_the_same_signature_as_its_low_s_twin() -> None:
    digest = os.urandom(32)
    r, s = utils.decode_dss_signature(der_sign(digest))
    low, high = min(s, N - s), max(s, N - s)
    a = Signature.from_ints(r, low, digest, PUB)
    b = Signature.from_ints(r, high, digest, PUB)
    assert a == b


def test_from_rs_matches_from_der() -> None:
    digest = os.urandom(32)
    der = der_sign(digest)
    r, s = utils.decode_dss_signature(der)
    assert Signature.from_rs(r.to_bytes(32, "big") + s.to_bytes(32, "big"), digest, PUB) == Signature.from_der(
        der, digest, PUB
    )


@pytest.mark.parametrize("expected", [OTHER, OTHER.address, OTHER.address_bytes])
def test_signature_by_another_key_is_refused(expected: object) -> None:
    digest = os.urandom(32)
    with pytest.raises(SignatureVerificationError, match=OTHER.address):
        Signature.from_der(der_sign(digest), digest, expected)  # type: ignore[arg-type]


def test_signature_over_another_digest_is_refused() -> None:
    digest = os.urandom(32)
    with pytest.raises(SignatureVerificationError):
        Signature.from_der(der_sign(digest), os.urandom(32), PUB)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_digest_must_be_32_bytes(size: int) -> None:
    with pytest.raises(InvalidDigestError, match=f"got {size}"):
        Signature.from_der(der_sign(os.urandom(32)), os.urandom(size), PUB)


GOOD_R, GOOD_S = 0x1234, 0x5678
MALFORMED = {
    "empty": b"",
    "wrong outer tag": b"\x31" + der_seq(der_int(GOOD_R), der_int(GOOD_S))[1:],
    "wrong integer tag": der_seq(b"\x03" + der_int(GOOD_R)[1:], der_int(GOOD_S)),
    "trailing bytes": der_seq(der_int(GOOD_R), der_int(GOOD_S)) + b"\x00",
    "extra element": der_seq(der_int(GOOD_R), der_int(GOOD_S), der_int(1)),
    "missing s": der_seq(der_int(GOOD_R)),
    "truncated": der_seq(der_int(GOOD_R), der_int(GOOD_S))[:-1],
    "length past end": b"\x30\x50" + der_int(GOOD_R) + der_int(GOOD_S),
    "negative r": der_seq(b"\x02\x01\x80", der_int(GOOD_S)),
    "zero r": der_seq(b"\x02\x01\x00", der_int(GOOD_S)),
    "zero s": der_seq(der_int(GOOD_R), b"\x02\x01\x00"),
    "empty integer": der_seq(b"\x02\x00", der_int(GOOD_S)),
    "superfluous leading zero": der_seq(b"\x02\x03\x00\x12\x34", der_int(GOOD_S)),
    "non-minimal length": b"\x30\x81\x08" + der_int(GOOD_R)[:0] + der_int(0x12) + der_int(0x34) + b"\x02\x01\x01",
    "indefinite length": b"\x30\x80" + der_int(GOOD_R) + der_int(GOOD_S) + b"\x00\x00",
    "r equal to n": der_seq(der_int(N), der_int(GOOD_S)),
    "s above n": der_seq(der_int(GOOD_R), der_int(N + 5)),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_der_is_refused_clearly(name: str) -> None:
    with pytest.raises(MalformedSignatureError):
        Signature.from_der(MALFORMED[name], os.urandom(32), PUB)


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_leak_a_generic_error(data: bytes) -> None:
    with contextlib.suppress(MalformedSignatureError, SignatureVerificationError):
        Signature.from_der(data, b"\x01" * 32, PUB)


@settings(max_examples=200)
@given(st.binary(min_size=0, max_size=100))
def test_raw_rs_must_be_64_bytes(data: bytes) -> None:
    if len(data) == 64:
        return
    with pytest.raises(MalformedSignatureError):
        Signature.from_rs(data, b"\x01" * 32, PUB)


def test_not_bytes_is_refused() -> None:
    with pytest.raises(MalformedSignatureError):
        Signature.from_der("3006020101020101", b"\x01" * 32, PUB)  # type: ignore[arg-type]


def test_to_bytes_round_trip_and_v_forms() -> None:
    digest = os.urandom(32)
    sig = Signature.from_der(der_sign(digest), digest, PUB)
    raw = sig.to_bytes()
    assert len(raw) == 65 and raw[64] in (27, 28)
    assert Signature.from_bytes(raw) == sig
    assert Signature.from_bytes(raw[:64] + bytes([sig.y_parity])) == sig
    assert sig.verify(digest, PUB.address)
    assert not sig.verify(digest, OTHER.address)


def test_signature_object_refuses_high_s() -> None:
    with pytest.raises(MalformedSignatureError):
        Signature(1, N - 1, 27)


@pytest.mark.parametrize("digest", [b"\x00" * 32, N.to_bytes(32, "big")], ids=["zero", "n"])
def test_digests_congruent_to_zero_take_the_exact_path(digest: bytes) -> None:
    parities = set()
    for _ in range(16):
        sig = Signature.from_der(der_sign(digest), digest, PUB)
        parities.add(sig.v)
        assert sig.recover(digest) == PUB.address
    assert parities == {27, 28}
