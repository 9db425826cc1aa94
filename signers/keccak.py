"""keccak-256 and EIP-55 addresses, without eth-utils (whose import alone costs more than the rest of the core).

pycryptodome's keccak is the one eth-hash uses under the hood; tests/core/test_keccak.py compares both functions
with eth-utils on random input.
"""

from __future__ import annotations

import re

from Crypto.Hash import keccak as _keccak

# eth-utils' is_address: 0x (any case, optional) and 40 hex digits of any case; the checksum is not checked
_HEX_ADDRESS = re.compile(r"(?:0[xX])?[0-9a-fA-F]{40}")


def keccak(data: bytes) -> bytes:
    """keccak-256 (Ethereum's, not SHA3-256) of ``data``."""
    return _keccak.new(data=data, digest_bits=256).digest()


def is_address(value: object) -> bool:
    """20 bytes, or a hex string of 20 bytes (eth-utils' ``is_address``)."""
    if isinstance(value, (bytes, bytearray)):
        return len(value) == 20
    return isinstance(value, str) and _HEX_ADDRESS.fullmatch(value) is not None


def canonical_address(value: bytes | bytearray | str) -> bytes:
    """The 20 bytes of an address given as bytes or hex (call ``is_address`` first)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)


def to_checksum_address(value: bytes | bytearray | str) -> str:
    """EIP-55: each hex letter upper case where the keccak of the lower-case hex has a nibble >= 8."""
    if not is_address(value):
        raise ValueError("not a 20-byte address")
    lower = canonical_address(value).hex()
    digest = keccak(lower.encode()).hex()
    return "0x" + "".join(c.upper() if int(h, 16) > 7 else c for c, h in zip(lower, digest[:40], strict=True))
