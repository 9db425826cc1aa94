"""The client-side token bucket (no service needed)."""

from __future__ import annotations

import threading
import time

import pytest
from signers_aws_kms.ratelimit import TokenBucket

from signers import ThrottledError


def test_burst_then_rate() -> None:
    bucket = TokenBucket(rate=20, burst=5)
    started = time.monotonic()
    for _ in range(5):
        bucket.acquire()
    assert time.monotonic() - started < 0.15  # the burst is free (at the rate it would take 0.25 s)
    for _ in range(10):
        bucket.acquire()
    assert time.monotonic() - started >= 10 / 20 * 0.95  # then 20 per second


def test_threads_share_one_budget() -> None:
    bucket = TokenBucket(rate=100, burst=1)
    stamps: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(10):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=take) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 80
    assert max(stamps) - started >= 79 / 100 * 0.95  # 80 tokens at 100/s with one saved: >= 0.79 s


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (1, 0.5)])
def test_refuses_nonsense(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


@pytest.mark.parametrize(("rate", "burst"), [(float("nan"), None), (float("inf"), None), (1, float("nan"))])
def test_refuses_non_finite(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match="finite"):
        TokenBucket(rate, burst)


def test_acquire_gives_up_at_its_timeout() -> None:
    """A caller queued behind the limit gets ThrottledError, not an endless wait."""
    bucket = TokenBucket(rate=1, burst=1)
    bucket.acquire(timeout=0.2)  # the saved-up token
    started = time.monotonic()
    with pytest.raises(ThrottledError, match="client-side rate limit of 1 requests/s") as caught:
        bucket.acquire(timeout=0.2)  # the next token is 1 s away
    assert time.monotonic() - started < 0.2
    assert "rate-limit=" in caught.value.hint
    bucket2 = TokenBucket(rate=20, burst=1)
    bucket2.acquire(timeout=0.5)
    bucket2.acquire(timeout=0.5)  # 50 ms away: within the timeout, it waits and gets it
