"""Ethereum field values: their types, and the ranges the protocol allows, checked before anything is
serialised or signed. A value no chain can accept (a chain id of 2**300, a value of 2**256, a nonce of 2**64)
is refused here with a ``FieldError`` naming the field and the rule, never the value (it may be anything a
caller put in the wrong place).

The bounds: nonces below 2**64 - 1 (EIP-2681 for transactions; EIP-7702 for authorisations), chain ids from
1 (0 for an authorisation valid on every chain) to 2**64 - 1 (EIP-2294's bound: what every client can hold),
every other quantity (value, gas, fees, r, s) below 2**256 (the yellow paper), yParity 0 or 1, addresses of
20 bytes, hashes and storage keys of 32.
"""

from __future__ import annotations

from typing import Any

from .errors import FieldError
from .keccak import canonical_address, is_address

UINT256 = 2**256
MAX_CHAIN_ID = 2**64 - 1  # EIP-2294
NONCE_LIMIT = 2**64 - 1  # EIP-2681 / EIP-7702: a nonce must be below this
_QUANTITY_HINT = "give an int or a 0x-prefixed hex string"


def quantity(value: Any, name: str = "the field", *, minimum: int = 0, limit: int = UINT256) -> int:
    """An integer field as eth-account and web3.py pass it (an int or a 0x-hex string), in [minimum, limit)."""
    if isinstance(value, bool):  # an int to Python, never a quantity to a caller
        raise FieldError(f"{name} is a boolean, not a number", hint=_QUANTITY_HINT)
    if isinstance(value, str):
        text = value.strip()
        try:
            if text[:2] not in ("0x", "0X") or len(text) == 2:
                raise ValueError
            number = int(text[2:], 16)
        except ValueError:
            raise FieldError(
                f"{name} is not a number", hint=_QUANTITY_HINT + " (a decimal string is ambiguous)"
            ) from None
    elif isinstance(value, int):
        number = value
    else:
        raise FieldError(f"{name} is a {type(value).__name__}, not a number", hint=_QUANTITY_HINT)
    if not minimum <= number < limit:
        raise FieldError(f"{name} is out of range", hint=f"it must be at least {minimum} and below {_power(limit)}")
    return number


def chain_id(value: Any, name: str = "chainId", *, allow_zero: bool = False) -> int:
    return quantity(value, name, minimum=0 if allow_zero else 1, limit=MAX_CHAIN_ID + 1)


def nonce(value: Any, name: str = "nonce") -> int:
    return quantity(value, name, limit=NONCE_LIMIT)


def address(value: Any, name: str = "address") -> bytes:
    """20 bytes, from bytes or a hex string (an EIP-55 checksum is verified when the case is mixed)."""
    if isinstance(value, (bytes, bytearray, str)) and is_address(value):
        return canonical_address(value)
    raise FieldError(
        f"{name} is not a 20-byte address",
        hint="give 0x and 40 hex digits (a mixed-case address must carry a valid EIP-55 checksum) or 20 bytes",
    )


def data(value: Any, name: str = "data", *, size: int | None = None) -> bytes:
    """Bytes, from bytes or a hex string (0x optional, as eth-account reads it); exactly ``size`` when given."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise FieldError(f"{name} is not hex", hint="give bytes or a 0x-prefixed hex string") from None
    else:
        raise FieldError(
            f"{name} is a {type(value).__name__}, not bytes", hint="give bytes or a 0x-prefixed hex string"
        )
    if size is not None and len(raw) != size:
        raise FieldError(f"{name} is not {size} bytes long", hint=f"give exactly {size} bytes")
    return raw


def sequence(value: Any, name: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    raise FieldError(f"{name} is a {type(value).__name__}, not a list", hint="give a list")


def _power(limit: int) -> str:
    exact = limit.bit_length() - 1
    if limit == 1 << exact:
        return f"2**{exact}"
    if limit == (1 << exact + 1) - 1:
        return f"2**{exact + 1} - 1"
    return str(limit)
