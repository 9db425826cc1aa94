"""Public keys in the formats custody services return, reduced to one secp256k1 point and its address.

Accepted: SubjectPublicKeyInfo DER (AWS KMS GetPublicKey), PEM (Cloud KMS), a PKCS#11 CKA_EC_POINT (a DER
OCTET STRING around the point), a raw SEC1 point (65 uncompressed or 33 compressed bytes) and the bare
64-byte x||y. Anything on another curve is refused with ``WrongCurveError`` naming the curve.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from . import der
from .errors import ConfigurationError, WrongCurveError
from .keccak import keccak, to_checksum_address

_CTX = GLOBAL_CONTEXT.ctx

ID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
SECP256K1_OID = bytes.fromhex("2b8104000a")  # 1.3.132.0.10
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_EC_PARAMS = bytes.fromhex("06052b8104000a")  # DER OID, as in PKCS#11 CKA_EC_PARAMS
_KNOWN_CURVES = {
    bytes.fromhex("2a8648ce3d030107"): "P-256 (secp256r1)",
    bytes.fromhex("2b81040022"): "P-384 (secp384r1)",
    bytes.fromhex("2b81040023"): "P-521 (secp521r1)",
}


def curve_name(oid: bytes) -> str:
    """A readable name for a curve OID body (for error messages)."""
    if oid == SECP256K1_OID:
        return "secp256k1"
    return _KNOWN_CURVES.get(oid, "OID " + oid.hex())


def serialize_point(parsed: Any, compressed: bool = False) -> bytes:
    """SEC1 bytes of a libsecp256k1 public key struct: 65 uncompressed, or 33 compressed."""
    size = 33 if compressed else 65
    out = ffi.new(f"unsigned char[{size}]")
    length = ffi.new("size_t *", size)
    flags = 0x102 if compressed else 0x2  # SECP256K1_EC_COMPRESSED / SECP256K1_EC_UNCOMPRESSED
    lib.secp256k1_ec_pubkey_serialize(_CTX, out, length, parsed, flags)
    return bytes(ffi.buffer(out, size))


@dataclass(frozen=True)
class PublicKey:
    """A secp256k1 public key: the uncompressed SEC1 point and the Ethereum address it controls."""

    point: bytes  # 65 bytes, 0x04 || x || y
    address: str = field(init=False)  # EIP-55 checksummed
    address_bytes: bytes = field(init=False, repr=False)
    _c: Any = field(init=False, repr=False, compare=False)  # libsecp256k1's parsed form, for fast compare
    # Q.x as an int, read from the point once: every self-check of a signature by this key (signature.py) uses it
    x: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = ffi.new("secp256k1_pubkey *")
        if len(self.point) not in (33, 65) or not lib.secp256k1_ec_pubkey_parse(
            _CTX, parsed, self.point, len(self.point)
        ):
            raise WrongCurveError(f"{len(self.point)} bytes are not a point on secp256k1")
        if len(self.point) == 33:  # store the uncompressed form, whatever came in
            object.__setattr__(self, "point", serialize_point(parsed))
        address_bytes = keccak(self.point[1:])[12:]
        object.__setattr__(self, "address_bytes", address_bytes)
        object.__setattr__(self, "address", to_checksum_address(address_bytes))
        object.__setattr__(self, "_c", parsed)
        object.__setattr__(self, "x", int.from_bytes(self.point[1:33], "big"))

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """Any binary form: SPKI DER, CKA_EC_POINT, SEC1 point, or 64-byte x||y."""
        if len(data) == 64:
            return cls(b"\x04" + data)
        if len(data) in (33, 65) and data[0] in (2, 3, 4):
            return cls(data)
        if data[:1] == bytes([der.OCTET_STRING]):
            start, end = der.read_tlv(data, 0, der.OCTET_STRING, "EC_POINT", ConfigurationError)
            if end != len(data):
                raise ConfigurationError("DER EC_POINT: trailing bytes")
            return cls.from_bytes(data[start:end])
        if data[:1] == bytes([der.SEQUENCE]):
            return cls.from_spki(data)
        raise ConfigurationError(f"unrecognised public key encoding ({len(data)} bytes)")

    @classmethod
    def from_spki(cls, data: bytes) -> PublicKey:
        """SubjectPublicKeyInfo DER; refuses any algorithm or curve but EC on secp256k1."""
        err = ConfigurationError
        start, end = der.read_tlv(data, 0, der.SEQUENCE, "SubjectPublicKeyInfo", err)
        if end != len(data):
            raise err("DER SubjectPublicKeyInfo: trailing bytes")
        alg_start, alg_end = der.read_tlv(data, start, der.SEQUENCE, "AlgorithmIdentifier", err)
        oid_start, oid_end = der.read_tlv(data, alg_start, der.OID, "algorithm", err)
        if data[oid_start:oid_end] != ID_EC_PUBLIC_KEY:
            raise WrongCurveError(
                f"the key is not an elliptic-curve key (algorithm OID {data[oid_start:oid_end].hex()})"
            )
        curve_start, curve_end = der.read_tlv(data, oid_end, der.OID, "namedCurve", err)
        curve = data[curve_start:curve_end]
        if curve != SECP256K1_OID:
            raise WrongCurveError(f"the key is on {curve_name(curve)}, not secp256k1")
        bits_start, bits_end = der.read_tlv(data, alg_end, der.BIT_STRING, "subjectPublicKey", err)
        if bits_end != end or bits_start == bits_end or data[bits_start] != 0:
            raise err("DER subjectPublicKey: malformed BIT STRING")
        return cls(data[bits_start + 1 : bits_end])

    @classmethod
    def from_pem(cls, pem: str | bytes) -> PublicKey:
        text = pem.decode() if isinstance(pem, bytes) else pem
        lines = [line.strip() for line in text.strip().splitlines()]
        if len(lines) < 3 or not lines[0].startswith("-----BEGIN") or not lines[-1].startswith("-----END"):
            raise ConfigurationError("not a PEM public key")
        try:
            body = base64.b64decode("".join(lines[1:-1]), validate=True)
        except binascii.Error as exc:
            raise ConfigurationError(f"PEM body is not base64: {exc}") from None
        return cls.from_spki(body)

    def to_spki(self) -> bytes:
        """The SubjectPublicKeyInfo DER of this key (88 bytes)."""
        algorithm = b"\x30\x10\x06\x07" + ID_EC_PUBLIC_KEY + b"\x06\x05" + SECP256K1_OID
        bits = b"\x03\x42\x00" + self.point
        return b"\x30\x56" + algorithm + bits

    def __str__(self) -> str:
        return self.address


def parse_private_key(text: str, where: str) -> bytes:
    """A 32-byte secp256k1 private key from hex (0x optional), for key imports and the local backend.
    Errors name only ``where`` (a variable or file name), never the value."""
    text = text.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32 or not 0 < int.from_bytes(key, "big") < SECP256K1_ORDER:
        raise ConfigurationError(f"{where}: expected a 32-byte hex secp256k1 private key")
    return key
