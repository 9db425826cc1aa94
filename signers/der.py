"""A strict reader for the few DER structures hardware hands back (ECDSA-Sig-Value, SPKI, EC_POINT).

Strict means: definite minimal lengths, no trailing bytes, nothing read past the end. Every failure is a
``MalformedSignatureError`` (or the error class the caller passes), never an IndexError.
"""

from __future__ import annotations

from .errors import MalformedSignatureError, SignerError

SEQUENCE = 0x30
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
OID = 0x06


def read_tlv(
    data: bytes, pos: int, tag: int, what: str, error: type[SignerError] = MalformedSignatureError
) -> tuple[int, int]:
    """Read one TLV with ``tag`` at ``pos``; return (start, end) of its value."""
    end_of_data = len(data)
    if pos + 2 > end_of_data:
        raise error(f"DER {what}: truncated (no tag and length at offset {pos})")
    if data[pos] != tag:
        raise error(f"DER {what}: expected tag 0x{tag:02x}, found 0x{data[pos]:02x} at offset {pos}")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 2:
            raise error(f"DER {what}: unsupported length encoding (0x{length:02x})")
        if pos + count > end_of_data:
            raise error(f"DER {what}: truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or (count == 2 and length < 0x100):
            raise error(f"DER {what}: length {length} is not minimally encoded")
        pos += count
    if pos + length > end_of_data:
        raise error(f"DER {what}: truncated (needs {length} bytes, {end_of_data - pos} left)")
    return pos, pos + length


def read_positive_integer(
    data: bytes, pos: int, what: str, error: type[SignerError] = MalformedSignatureError
) -> tuple[int, int]:
    """Read a strictly positive, minimally encoded INTEGER; return (value, end)."""
    start, end = read_tlv(data, pos, INTEGER, what, error)
    if start == end:
        raise error(f"DER {what}: empty INTEGER")
    first = data[start]
    if first & 0x80:
        raise error(f"DER {what}: negative INTEGER")
    if first == 0 and (end - start == 1 or not data[start + 1] & 0x80):
        raise error(f"DER {what}: INTEGER is zero or has a superfluous leading zero byte")
    return int.from_bytes(data[start:end], "big"), end
