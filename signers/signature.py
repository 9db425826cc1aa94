"""Signature: what hardware returns (DER or r||s), made into an Ethereum signature once, for every backend.

Conversion = strict parse, low-s normalisation (EIP-2), recovery id, and a self-check that the signature
recovers to the expected key. A signature that fails the check is never returned.

Speed (bench/bench_conversion.py): with the expected ``PublicKey`` Q the cost is one libsecp256k1 multi-
scalar multiplication, what a single recovery costs. Verifying (r, s) over z computes the nonce point
R = (z/s) G + (r/s) Q and checks R.x = r; R's y parity is then the recovery id, so one computation gives both
the check and v. libsecp256k1 does not expose that sum, but its recovery computes (1/r')(s' R_in - z' G) for
a point R_in given by its x (r') and y parity (recid'): with R_in = Q, r' = Q.x, s' = r' r / s and
z' = -r' z / s, the "recovered key" is exactly R. Q.x >= n (a 2**-128 chance) and invalid signatures take
the slower path: recover both candidates and compare addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from . import der
from .errors import (
    InvalidDigestError,
    MalformedSignatureError,
    SignatureVerificationError,
)
from .keccak import keccak, to_checksum_address
from .keys import PublicKey, serialize_point

# secp256k1 group order and field prime
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
HALF_N = N // 2

_CTX = GLOBAL_CONTEXT.ctx

Expected = PublicKey | str | bytes
"""Who must have signed: a PublicKey (fast path), a hex address, or 20 address bytes."""


def check_digest(digest: object) -> bytes:
    """The 32-byte digest, or InvalidDigestError. Backends such as CKM_ECDSA would sign 33 bytes."""
    if not isinstance(digest, (bytes, bytearray, memoryview)):
        raise InvalidDigestError(f"digest must be bytes, not {type(digest).__name__}")
    if len(digest) != 32:
        raise InvalidDigestError(f"digest must be 32 bytes, got {len(digest)}")
    return bytes(digest)


def parse_der(data: bytes) -> tuple[int, int]:
    """(r, s) from a strict DER ECDSA-Sig-Value."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedSignatureError(f"DER signature must be bytes, not {type(data).__name__}")
    data = bytes(data)
    start, end = der.read_tlv(data, 0, der.SEQUENCE, "ECDSA-Sig-Value")
    if end != len(data):
        raise MalformedSignatureError(f"DER ECDSA-Sig-Value: {len(data) - end} trailing bytes")
    r, pos = der.read_positive_integer(data, start, "r")
    s, pos = der.read_positive_integer(data, pos, "s")
    if pos != end:
        raise MalformedSignatureError("DER ECDSA-Sig-Value: extra data after s")
    return r, s


def parse_rs(data: bytes) -> tuple[int, int]:
    """(r, s) from the raw 64-byte r||s that PKCS#11 CKM_ECDSA returns."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) != 64:
        size = len(data) if isinstance(data, (bytes, bytearray, memoryview)) else type(data).__name__
        raise MalformedSignatureError(f"raw signature must be 64 bytes r||s, got {size}")
    data = bytes(data)
    return int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big")


def _recover(compact: bytes, recid: int, digest: bytes) -> object | None:
    """libsecp256k1 recovery; the parsed public key, or None where no key exists."""
    sig = ffi.new("secp256k1_ecdsa_recoverable_signature *")
    if not lib.secp256k1_ecdsa_recoverable_signature_parse_compact(_CTX, sig, compact, recid):
        return None
    out = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_ecdsa_recover(_CTX, out, sig, digest):
        return None
    return out  # type: ignore[no-any-return]


def _address_of(pubkey: object) -> bytes:
    return keccak(serialize_point(pubkey)[1:])[12:]


def _address_bytes(expected: Expected) -> bytes:
    if isinstance(expected, PublicKey):
        return expected.address_bytes
    if isinstance(expected, str):
        text = expected[2:] if expected[:2] in ("0x", "0X") else expected
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) == 20:
            return raw
    elif isinstance(expected, (bytes, bytearray)) and len(expected) == 20:
        return bytes(expected)
    raise TypeError("expected must be a PublicKey, a 0x address or 20 address bytes")


@dataclass(frozen=True, slots=True)
class Signature:
    """An Ethereum ECDSA signature: low-s, with v = 27 or 28."""

    r: int
    s: int
    v: int

    def __post_init__(self) -> None:
        if not (0 < self.r < N and 0 < self.s <= HALF_N and self.v in (27, 28)):
            raise MalformedSignatureError("Signature needs 0 < r < n, 0 < s <= n/2 (low-s) and v in {27, 28}")

    @property
    def y_parity(self) -> int:
        return self.v - 27

    def to_bytes(self) -> bytes:
        """r || s || v, 65 bytes, v = 27/28 (what ecrecover, personal_sign and OwnableValidator expect)."""
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes([self.v])

    def to_hex(self) -> str:
        return "0x" + self.to_bytes().hex()

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Parse 65 bytes r||s||v (v as 0/1 or 27/28). Refuses high-s: use from_rs to normalise."""
        if not isinstance(data, (bytes, bytearray)) or len(data) != 65:
            raise MalformedSignatureError("a 65-byte r||s||v signature is needed")
        v = data[64] + 27 if data[64] in (0, 1) else data[64]
        return cls(int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big"), v)

    @classmethod
    def from_der(cls, data: bytes, digest: bytes, expected: Expected) -> Signature:
        """Convert a DER signature (AWS KMS, Cloud KMS) over ``digest`` made by ``expected``."""
        r, s = parse_der(data)
        return cls.from_ints(r, s, digest, expected)

    @classmethod
    def from_rs(cls, data: bytes, digest: bytes, expected: Expected) -> Signature:
        """Convert a raw r||s signature (PKCS#11 CKM_ECDSA) over ``digest`` made by ``expected``."""
        r, s = parse_rs(data)
        return cls.from_ints(r, s, digest, expected)

    @classmethod
    def from_ints(cls, r: int, s: int, digest: bytes, expected: Expected) -> Signature:
        """Normalise s, find the recovery id, and refuse anything that does not recover to ``expected``."""
        digest = check_digest(digest)
        if not 0 < r < N:
            raise MalformedSignatureError("r is zero or not below the curve order")
        if not 0 < s < N:
            raise MalformedSignatureError("s is zero or not below the curve order")
        if s > HALF_N:  # EIP-2: the other (low) s of the pair is equally valid and the only one accepted
            s = N - s
        if isinstance(expected, PublicKey):
            recid = _recovery_id(r, s, digest, expected)
            if recid is not None:
                return cls(r, s, 27 + recid)
        # No key, or the fast path said no (or could not run): recover both candidates and compare addresses.
        address = _address_bytes(expected)
        compact = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        for recid in (0, 1):
            recovered = _recover(compact, recid, digest)
            if recovered is not None and _address_of(recovered) == address:
                return cls(r, s, 27 + recid)
        raise SignatureVerificationError(
            f"signature does not recover to {to_checksum_address(address)}",
            expected=to_checksum_address(address),
        )

    def recover_public_key(self, digest: bytes) -> PublicKey:
        recovered = _recover(self.to_bytes()[:64], self.y_parity, check_digest(digest))
        if recovered is None:
            raise SignatureVerificationError(
                "no public key recovers from this signature", hint="the signature or the digest is not the right one"
            )
        return PublicKey(serialize_point(recovered))

    def recover(self, digest: bytes) -> str:
        """The checksummed address that made this signature over ``digest``."""
        return self.recover_public_key(digest).address

    def verify(self, digest: bytes, expected: Expected) -> bool:
        """True iff this signature over ``digest`` recovers to ``expected``."""
        try:
            return self.recover_public_key(digest).address_bytes == _address_bytes(expected)
        except SignatureVerificationError:
            return False


def _recovery_id(r: int, s: int, digest: bytes, key: PublicKey) -> int | None:
    """0 or 1 if (r, s) over ``digest`` is ``key``'s signature; None if not, or if Q.x >= n (then Q.x cannot
    stand as r' of a recoverable signature, and the caller recovers both candidates). See the module docstring."""
    qx = key.x
    if qx >= N:
        return None
    q_over_s = qx * int(gmpy2.invert(s, N)) % N  # shared by s' and z'
    s_prime = r * q_over_s % N
    z_prime = -int.from_bytes(digest, "big") * q_over_s % N
    nonce_point = _recover(
        key.point[1:33] + s_prime.to_bytes(32, "big"), key.point[64] & 1, z_prime.to_bytes(32, "big")
    )
    if nonce_point is None:
        return None
    compressed = serialize_point(nonce_point, compressed=True)
    # R.x = r: valid, and R's y parity is the recovery id. R.x = r + n (recids 2, 3) Ethereum cannot express.
    return compressed[0] - 2 if int.from_bytes(compressed[1:], "big") == r else None
