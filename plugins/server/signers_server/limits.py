"""Per-client rate limits (a token bucket per client) and reading a request body within its limits."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: int
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, count: int = 1) -> bool:
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= count:
            self.tokens -= count
            return True
        return False


class RateLimiter:
    """One bucket per client name; a batch of n requests takes n tokens (the loop is single-threaded)."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, client: str, rate: float, burst: int, count: int = 1) -> bool:
        bucket = self._buckets.get(client)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:  # new, or reconfigured by a reload
            bucket = self._buckets[client] = TokenBucket(rate, burst)
        return bucket.take(count)


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


async def read_body(receive: Any, declared: str | None, max_bytes: int, timeout: float) -> bytes:
    """The whole body, refusing more than ``max_bytes`` (before reading it, when the declared Content-Length
    says so) and a client that takes longer than ``timeout`` seconds to send it (a slow or stalled client, or
    one that hung up: its answer could not be delivered anyway)."""
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":  # http.disconnect
                    raise BodyTimeout
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > max_bytes:
                    raise BodyTooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise BodyTimeout from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
