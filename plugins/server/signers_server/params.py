"""Reading JSON-RPC params. Each reader names the position and the rule it broke, never the value (a user
may paste a secret into the wrong field)."""

from __future__ import annotations

import functools
import re
from typing import Any

from signers.keccak import to_checksum_address

from .errors import invalid_params

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX = re.compile(r"^0x([0-9a-fA-F]{2})*$")
_QUANTITY = re.compile(r"^0x[0-9a-fA-F]+$")


def positional(params: Any, count: int, method: str, optional: int = 0) -> list[Any]:
    """``params`` as a list of ``count`` items (the last ``optional`` ones may be missing)."""
    if params is None:
        params = []
    if not isinstance(params, list) or not count - optional <= len(params) <= count:
        want = f"{count - optional} to {count}" if optional else str(count)
        raise invalid_params(f"{method} takes an array of {want} params")
    return params + [None] * (count - len(params))


def address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise invalid_params(f"{where} must be a 0x-prefixed 20-byte address")
    checksummed = _checksummed(value)
    if checksummed is None:
        raise invalid_params(f"{where} has a wrong EIP-55 checksum (a mistyped address?)")
    return checksummed


@functools.lru_cache(maxsize=4096)  # clients name the same few accounts in every call: a keccak per call saved
def _checksummed(value: str) -> str | None:
    """The EIP-55 form of a well-formed address, None if its mixed case is a wrong checksum. ethers sends
    addresses lowercase, viem checksummed; eth-account takes only the checksummed form."""
    checksummed = to_checksum_address(value)
    if value[2:] not in (value[2:].lower(), value[2:].upper(), checksummed[2:]):
        return None
    return checksummed


def data(value: Any, where: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise invalid_params(f"{where} must be 0x-prefixed hex bytes")
    raw = bytes.fromhex(value[2:])
    if size is not None and len(raw) != size:
        raise invalid_params(f"{where} must be {size} bytes")
    return raw


def quantity(value: Any, where: str) -> int:
    """A JSON-RPC quantity: 0x-hex, or a non-negative JSON integer (viem sends chain ids as numbers)."""
    if isinstance(value, bool):
        raise invalid_params(f"{where} must be a hex quantity")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and _QUANTITY.fullmatch(value) and len(value) <= 66:
        return int(value, 16)
    raise invalid_params(f"{where} must be a hex quantity (0x...)")


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_params(f"{where} must be an object")
    return value
