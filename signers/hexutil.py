"""Small conversions shared by the AA modules: hex <-> bytes, addresses, JSON-RPC quantities."""

from __future__ import annotations

import functools

from .errors import AAConfigurationError
from .keccak import to_checksum_address

BytesLike = bytes | bytearray | memoryview | str


# Values are described, never quoted: a private key or other secret pasted into the wrong field must not be
# echoed into logs or an error report.
_NOT_ECHOED = "the value itself is not shown in errors; check the field named"


def _first_non_hex(text: str) -> str:
    position = next((i for i, c in enumerate(text) if c not in "0123456789abcdefABCDEF"), None)
    return f"a character outside 0-9a-f at position {position}" if position is not None else "hex digits expected"


def to_bytes(value: BytesLike, what: str = "value", size: int | None = None) -> bytes:
    """bytes from bytes or a 0x hex string; with ``size``, exactly that many bytes."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        out = bytes(value)
    elif isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        if len(text) % 2:
            raise AAConfigurationError(f"{what}: odd-length hex ({len(text)} digits)", hint=_NOT_ECHOED)
        try:
            out = bytes.fromhex(text)
        except ValueError:
            raise AAConfigurationError(f"{what}: not hex ({_first_non_hex(text)})", hint=_NOT_ECHOED) from None
    else:
        raise AAConfigurationError(f"{what}: expected bytes or a 0x hex string, got {type(value).__name__}")
    if size is not None and len(out) != size:
        raise AAConfigurationError(f"{what}: expected {size} bytes, got {len(out)}")
    return out


def to_address(value: BytesLike, what: str = "address") -> str:
    """A checksummed address from 20 bytes or a hex string (any case)."""
    return _checksummed(to_bytes(value, what, 20))


@functools.lru_cache(maxsize=4096)
def _checksummed(address: bytes) -> str:
    # EIP-55 costs a keccak; a session signs for the same few addresses over and over (UserOperation fields
    # are normalised on every copy), so remember them.
    return to_checksum_address(address)


def to_hex(data: bytes) -> str:
    return "0x" + data.hex()


def quantity(value: int) -> str:
    """A JSON-RPC quantity: minimal 0x hex, "0x0" for zero."""
    if value < 0:
        raise AAConfigurationError(f"a quantity cannot be negative: {value}")
    return hex(value)


def parse_quantity(value: int | str, what: str = "quantity") -> int:
    if isinstance(value, bool):
        raise AAConfigurationError(f"{what}: a boolean is not a quantity")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value[:2] in ("0x", "0X") else int(value)
        except ValueError:
            pass
    raise AAConfigurationError(
        f"{what}: not a quantity (a {type(value).__name__}; expected an int, 0x hex or decimal digits)",
        hint=_NOT_ECHOED,
    )


def uint(value: int, bits: int, what: str) -> int:
    """Check that ``value`` fits an unsigned integer of ``bits`` bits (what Solidity will read)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AAConfigurationError(f"{what} must be an int, got {type(value).__name__}")
    if not 0 <= value < 1 << bits:
        raise AAConfigurationError(f"{what} = {value} does not fit uint{bits}")
    return value
