"""The core's shared parts of every plugin: the bounded retry (sync and async) and the option checks."""

from __future__ import annotations

import asyncio
import math

import pytest

from signers.errors import ConfigurationError
from signers.options import number_from_text, positive_number, seconds, whole_number
from signers.retry import Attempt, RetriesExhausted, RetryPolicy


class Transient(Exception):
    pass


def _transient(error: Exception) -> float | None:
    return 0.001 if isinstance(error, Transient) else None


def test_transient_failures_are_retried_up_to_the_attempts() -> None:
    seen: list[int] = []
    pauses: list[float] = []

    def call(attempt: Attempt) -> str:
        seen.append(attempt.number)
        if attempt.number < 3:
            raise Transient
        return "ok"

    policy = RetryPolicy(attempts=3)
    assert policy.run(call, _transient, lambda error, attempt, pause: pauses.append(pause)) == "ok"
    assert seen == [1, 2, 3] and len(pauses) == 2
    assert 0.0005 <= pauses[0] <= 0.001 and 0.001 <= pauses[1] <= 0.002  # equal jitter: never zero, doubling


def test_the_last_failure_and_the_count_when_attempts_run_out() -> None:
    def call(attempt: Attempt) -> None:
        raise Transient(attempt.number)

    with pytest.raises(RetriesExhausted) as gave_up:
        RetryPolicy(attempts=4).run(call, _transient)
    assert gave_up.value.attempts == 4 and gave_up.value.error.args == (4,)


def test_a_failure_that_is_not_transient_propagates_at_once() -> None:
    calls: list[int] = []

    def call(attempt: Attempt) -> None:
        calls.append(attempt.number)
        raise KeyError("answer")

    with pytest.raises(KeyError):
        RetryPolicy(attempts=5).run(call, _transient)
    assert calls == [1]


def test_no_pause_outlives_the_deadline() -> None:
    """A pause that would end after the deadline is not taken: the call gives up with the last failure."""
    calls: list[Attempt] = []

    def call(attempt: Attempt) -> None:
        calls.append(attempt)
        raise Transient

    with pytest.raises(RetriesExhausted):
        RetryPolicy(deadline=0.05).run(call, lambda error: 10.0)  # a first pause of 5-10 s
    assert len(calls) == 1 and calls[0].left is not None and 0 < calls[0].left <= 0.05
    assert calls[0].timeout(5.0) <= 0.05 and Attempt(1, None).timeout(5.0) == 5.0


def test_async_runs_the_same_schedule() -> None:
    async def call(attempt: Attempt) -> int:
        if attempt.number == 1:
            raise Transient
        return attempt.number

    assert asyncio.run(RetryPolicy(attempts=2).arun(call, _transient)) == 2
    with pytest.raises(RetriesExhausted):
        asyncio.run(RetryPolicy(attempts=1).arun(call, _transient))


def test_a_retry_must_be_bounded() -> None:
    with pytest.raises(ValueError, match="bounded"):
        RetryPolicy()


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, 601, "inf", "0", True, None, "soon", [1]])
def test_unusable_seconds_are_refused_naming_the_option(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^x: wait=.* must be a positive, finite number of seconds") as info:
        seconds("x", "wait", value)
    assert "at most 600 s" in str(info.value) and "is not a usable number of seconds" in str(info.value)


def test_text_that_is_not_a_number_is_never_shown() -> None:
    secret = "0x" + "ab" * 32
    for check in (
        lambda: seconds("x", "wait", secret),
        lambda: positive_number("x", "rate", secret, maximum=10, unit="calls per second"),
        lambda: whole_number("x", "tries", secret, minimum=1, maximum=3),
        lambda: number_from_text("x", "tries", secret, int),
    ):
        with pytest.raises(ConfigurationError) as info:
            check()
        assert "ab" * 4 not in str(info.value) and "not a" in str(info.value)


def test_usable_values_come_back_as_numbers() -> None:
    assert seconds("x", "wait", "2.5") == 2.5 and seconds("x", "wait", 600) == 600.0
    assert (
        whole_number("x", "tries", "3", minimum=1, maximum=3) == 3
        and whole_number("x", "n", 0, minimum=0, maximum=1) == 0
    )
    assert number_from_text("x", "n", None) is None and number_from_text("x", "n", "4", int) == 4


@pytest.mark.parametrize(("value", "says"), [(0, "at least 1"), (11, "at most 10"), (2.5, "2.5 is not a whole number"),
                                             (True, "... is not a whole number")])  # fmt: skip
def test_whole_numbers(value: object, says: str) -> None:
    with pytest.raises(ConfigurationError, match="tries=.* must be a whole number from 1 to 10") as info:
        whole_number("x", "tries", value, minimum=1, maximum=10)
    assert says in str(info.value)
