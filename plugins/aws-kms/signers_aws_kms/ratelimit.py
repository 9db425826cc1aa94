"""A client-side rate limit (a token bucket) so a fleet of signers can stay inside the account's KMS quota.

AWS counts every request against the quota, retries included, so the limiter is asked once per attempt.
A caller waits for a token at most ``timeout`` seconds (the connection passes its read timeout): past that the
limit is the bottleneck, and ``ThrottledError`` says so instead of queueing the caller without end.
"""

from __future__ import annotations

import math
import threading
import time

from signers.errors import ThrottledError


def _positive_finite(value: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. Thread-safe; ``acquire`` blocks until a token
    (or its timeout)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        # math.isfinite: nan passes a ``<= 0`` check and then breaks the wait computation; inf is no limit
        if not _positive_finite(rate):
            raise ValueError(f"rate must be a positive, finite number of tokens per second, got {rate!r}")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        if not (_positive_finite(self.burst) and self.burst >= 1):
            raise ValueError(f"burst must be a finite number of at least 1, got {burst!r}")
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, timeout: float | None = None) -> None:
        """Take a token; with ``timeout`` (seconds), raise ThrottledError rather than wait longer for one."""
        give_up = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            if give_up is not None and now + wait > give_up:
                # fail now rather than sleep until the deadline only to fail then
                raise ThrottledError(
                    f"client-side rate limit of {self.rate:g} requests/s: no request slot within {timeout:g} s; "
                    "nothing was sent to KMS",
                    hint="lower the request rate of this process, raise rate-limit= (within the account's KMS "
                    "quota), or raise read-timeout= to let callers queue longer",
                )
            # waiting outside the lock lets other threads refill and compete fairly
            time.sleep(wait)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}/s, burst={self.burst:g})"
