"""FastLZ (level 1) as Solady's LibZip ``flzCompress`` / ``flzDecompress`` produce and read it.

Smart Sessions compresses the ENABLE-mode signature with it (module-sdk calls solady-js ``LibZip.flzCompress``),
so our bytes must be the compressor's exact choices, not just a valid stream.

The stream is a sequence of instructions; the top 3 bits of the first byte ``c`` say which:
  0      literal run: ``(c & 31) + 1`` bytes follow, copied as they are
  1..6   short match: length ``(c >> 5) + 2``, then one byte ``b``: distance ``((c & 31) << 8 | b) + 1``
  7      long match: then bytes ``n`` and ``b``: length ``n + 9``, distance ``((c & 31) << 8 | b) + 1``
A match copies ``length`` bytes starting ``distance`` bytes back in the output (it may overlap what it writes).

The compressor looks for 3-byte repeats through an 8192-entry table of last positions, keyed by a
multiplicative hash of the 24-bit little-endian word at each position, within a window of 8192 bytes. It leaves
the first 2 and last 13 bytes to literals and caps one match instruction at 262 bytes. solady-js computes the
hash with a float multiply then a 32-bit truncation; ``_hash`` does the same, so rare rounding cases pick the
same match as the SDK (Solady's Solidity version multiplies exactly: its output can differ in those cases and
both decompress to the same data).
"""

from __future__ import annotations

from .errors import AAConfigurationError

_HASH_MULTIPLIER = 2654435769
_TABLE_BITS = 13
_WINDOW = 8192
_MAX_MATCH = 262


def _hash(word: int) -> int:
    # float(a) * float(b): one IEEE-754 double multiply, rounded like JavaScript's `*`
    product = int(float(_HASH_MULTIPLIER) * float(word)) & 0xFFFFFFFF
    return (product >> 19) & ((1 << _TABLE_BITS) - 1)


def compress(data: bytes) -> bytes:
    """``LibZip.flzCompress(data)``, byte for byte with solady-js."""
    src = bytes(data)
    end = len(src) - 4  # matches never reach into the last 4 bytes
    last = end - 9  # nor start in the last 13
    table = [0] * (1 << _TABLE_BITS)
    out = bytearray()

    def word(at: int) -> int:
        return int.from_bytes(src[at : at + 3].ljust(3, b"\0"), "little")

    def literals(count: int, start: int) -> None:
        while count > 0:
            run = min(count, 32)
            out.append(run - 1)
            out.extend(src[start : start + run])
            start += run
            count -= run

    anchor, pos = 0, 2
    while pos < last:
        # find the next position whose 3 bytes repeat within the window
        while True:
            current = word(pos)
            slot = _hash(current)
            ref = table[slot]
            table[slot] = pos
            distance = pos - ref
            candidate = word(ref) if distance < _WINDOW else 1 << 24
            if pos >= last:
                break
            pos += 1
            if current == candidate:
                break
        if pos >= last:
            break
        pos -= 1
        if pos > anchor:
            literals(pos - anchor, anchor)
        # extend the match past its first 3 bytes; `length` counts one past the last equal byte
        length, limit = 0, end - (pos + 3)
        while length < limit:
            equal = src[ref + 3 + length] == src[pos + 3 + length]
            length += 1
            if not equal:
                break
        pos += length
        distance -= 1
        while length > _MAX_MATCH:
            out += bytes([224 + (distance >> 8), 253, distance & 255])
            length -= _MAX_MATCH
        if length < 7:
            out += bytes([(length << 5) + (distance >> 8), distance & 255])
        else:
            out += bytes([224 + (distance >> 8), length - 7, distance & 255])
        for _ in range(2):
            table[_hash(word(pos))] = pos
            pos += 1
        anchor = pos
    literals(len(src) - anchor, anchor)
    return bytes(out)


def decompress(data: bytes, *, max_size: int = 1 << 20) -> bytes:
    """``LibZip.flzDecompress(data)``; a truncated or inconsistent stream is refused, not guessed at.

    ``max_size`` bounds the output (a signature field is attacker-controlled input)."""
    src = bytes(data)
    out = bytearray()
    at = 0
    while at < len(src):
        control = src[at]
        kind = control >> 5
        if kind == 0:
            run = (control & 31) + 1
            if at + 1 + run > len(src):
                raise AAConfigurationError(f"FastLZ: literal run at byte {at} is cut short")
            out += src[at + 1 : at + 1 + run]
            at += 1 + run
        else:
            if kind < 7:
                if at + 2 > len(src):
                    raise AAConfigurationError(f"FastLZ: match at byte {at} is cut short")
                length, low = kind + 2, src[at + 1]
                at += 2
            else:
                if at + 3 > len(src):
                    raise AAConfigurationError(f"FastLZ: long match at byte {at} is cut short")
                length, low = src[at + 1] + 9, src[at + 2]
                at += 3
            distance = ((control & 31) << 8 | low) + 1
            if distance > len(out):
                raise AAConfigurationError(f"FastLZ: a match before byte {at} points before the start of the output")
            start = len(out) - distance
            for i in range(length):  # byte by byte: a match may overlap its own output
                out.append(out[start + i])
        if len(out) > max_size:
            raise AAConfigurationError(f"FastLZ: output larger than {max_size} bytes")
    return bytes(out)
