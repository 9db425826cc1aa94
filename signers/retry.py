"""A bounded retry with jittered backoff, for the calls a backend makes to its custody (sync and async).

The plugin says which failures are transient (``classify``) and how long it may try (``RetryPolicy``: a
number of attempts, a total deadline, or both); the loop is here once. A failure that is not transient
propagates unchanged, for the plugin to map to a signers error; when the attempts or the deadline run out,
``RetriesExhausted`` carries the last failure and the count, for the same mapping.

Pauses use "equal jitter": half the ceiling plus a random part of the other half, the ceiling doubling from
``initial`` up to ``maximum``. Never zero (a burst of throttled callers really backs off), never
synchronised (they do not come back together).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

#: ``classify(error)``: the first pause's ceiling in seconds for a transient failure (throttling may start
#: from a longer one), or None when the failure must not be retried
Classifier = Callable[[Exception], "float | None"]
#: ``on_retry(error, attempt, pause)``: told before each pause (a log line, a counter)
OnRetry = Callable[[Exception, "Attempt", float], None]


@dataclass(frozen=True)
class Attempt:
    number: int  # 1 for the first try
    left: float | None  # seconds left before the deadline (None: no deadline); give the call no more than this

    def timeout(self, per_attempt: float) -> float:
        """The attempt's timeout: ``per_attempt``, cut to what is left of the deadline (never zero)."""
        return per_attempt if self.left is None else min(per_attempt, max(self.left, 0.001))


class RetriesExhausted(Exception):
    """The attempts or the deadline ran out; ``error`` is the last failure."""

    def __init__(self, error: Exception, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} attempt(s): {type(error).__name__}")
        self.error = error
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int | None = None  # the most tries, the first included (1: no retry)
    deadline: float | None = None  # seconds for all tries and pauses
    initial: float = 0.05  # the first pause's ceiling, unless the classifier names another
    maximum: float = 2.0  # the longest ceiling

    def __post_init__(self) -> None:
        if self.attempts is None and self.deadline is None:
            raise ValueError("a RetryPolicy needs attempts, a deadline or both: a retry must be bounded")

    def pause(self, retry: int, initial: float | None = None) -> float:
        ceiling = min(self.maximum, (initial or self.initial) * 2.0 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def run(self, call: Callable[[Attempt], T], classify: Classifier, on_retry: OnRetry | None = None) -> T:
        schedule = _Schedule(self, classify, on_retry)
        while True:
            attempt = schedule.next()
            try:
                return call(attempt)
            except Exception as error:
                pause = schedule.after(error, attempt)
            time.sleep(pause)

    async def arun(
        self, call: Callable[[Attempt], Awaitable[T]], classify: Classifier, on_retry: OnRetry | None = None
    ) -> T:
        schedule = _Schedule(self, classify, on_retry)
        while True:
            attempt = schedule.next()
            try:
                return await call(attempt)
            except Exception as error:
                pause = schedule.after(error, attempt)
            await asyncio.sleep(pause)


class _Schedule:
    """One call's attempts: what the sync and async loops share."""

    def __init__(self, policy: RetryPolicy, classify: Classifier, on_retry: OnRetry | None) -> None:
        self.policy, self.classify, self.on_retry = policy, classify, on_retry
        self.give_up = None if policy.deadline is None else time.monotonic() + policy.deadline
        self.number = 0

    def next(self) -> Attempt:
        self.number += 1
        return Attempt(self.number, None if self.give_up is None else self.give_up - time.monotonic())

    def after(self, error: Exception, attempt: Attempt) -> float:
        """The pause before the next attempt; re-raises ``error`` when it is not transient, raises
        RetriesExhausted when no attempt or no time is left for another."""
        initial = self.classify(error)
        if initial is None:
            raise error
        if self.policy.attempts is not None and attempt.number >= self.policy.attempts:
            raise RetriesExhausted(error, attempt.number) from None
        pause = self.policy.pause(attempt.number, initial)
        if self.give_up is not None and time.monotonic() + pause >= self.give_up:
            raise RetriesExhausted(error, attempt.number) from None
        if self.on_retry is not None:
            self.on_retry(error, attempt, pause)
        return pause
