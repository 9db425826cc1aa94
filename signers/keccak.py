"""keccak-256 and EIP-55 addresses, without eth-utils (whose import alone costs more than the rest of the core).

pycryptodome's keccak is the one eth-hash uses under the hood; tests/core/test_keccak.py compares both functions
with eth-hash and eth-utils on random input.
"""

from __future__ import annotations

import re
from typing import Any

from Crypto.Hash import keccak as _pycryptodome_keccak
from Crypto.Util import _raw_api

_raw: Any = _raw_api  # its stubs lack c_ubyte, which the runtime module has
_lib: Any = _pycryptodome_keccak._raw_keccak_lib  # type: ignore[attr-defined]

# eth-utils' is_address: 0x (any case, optional) and 40 hex digits of any case; the checksum is not checked
_HEX_ADDRESS = re.compile(r"(?:0[xX])?[0-9a-fA-F]{40}")


# The C functions behind pycryptodome's Keccak_Hash, called directly: its object (a smart pointer, a padding
# attribute, an update-after-digest guard) costs ~1.5 us per hash, and a session op hashes four times.
_init, _absorb, _squeeze = _lib.keccak_init, _lib.keccak_absorb, _lib.keccak_digest
_reset, _destroy = _lib.keccak_reset, _lib.keccak_destroy
_VoidPointer, _SmartPointer, _c_uint8_ptr = _raw.VoidPointer, _raw.SmartPointer, _raw.c_uint8_ptr
_c_size_t, _create_buffer, _buffer_bytes = _raw.c_size_t, _raw.create_string_buffer, _raw.get_raw_buffer
_CAPACITY = _c_size_t(64)  # 2 x 32 bytes: keccak-256
_ROUNDS = _raw.c_ubyte(24)
_SIZE = _c_size_t(32)
_PADDING = _raw.c_ubyte(0x01)  # Keccak's padding, not SHA-3's 0x06

# Hash states (with their output buffers) are reused, reset after each hash: allocating and freeing one per hash
# (two cffi allocations, two more C calls) was half of a short hash's cost. A caller takes a state from the pool
# and puts it back when done; list.pop and list.append are atomic, so no two callers (threads, or a signal handler
# that hashes in the same thread) ever share one. The pool holds at most as many states as callers ever hashed at
# once; a state dropped from it (an error) is freed by its SmartPointer.
_pool: list[tuple[Any, Any, Any]] = []


def _new_state() -> tuple[Any, Any, Any]:
    """(its owner, which frees it when dropped; the state; a 32-byte output buffer)."""
    state = _VoidPointer()
    if _init(state.address_of(), _CAPACITY, _ROUNDS):
        raise MemoryError("keccak: the hash state could not be allocated")
    owner = _SmartPointer(state.get(), _destroy)
    return owner, owner.get(), _create_buffer(32)


def keccak(data: bytes) -> bytes:
    """keccak-256 (Ethereum's, not SHA3-256) of ``data``."""
    try:
        state = _pool.pop()
    except IndexError:
        state = _new_state()
    pointer, out = state[1], state[2]
    if (
        _absorb(pointer, data if type(data) is bytes else _c_uint8_ptr(data), _c_size_t(len(data)))
        or _squeeze(pointer, out, _SIZE, _PADDING)
        or _reset(pointer)
    ):
        raise ValueError("keccak: the hash could not be computed")  # the state is dropped, not reused
    digest = bytes(_buffer_bytes(out))
    _pool.append(state)
    return digest


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
