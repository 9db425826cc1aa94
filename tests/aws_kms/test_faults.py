"""Real transport faults between boto3 and LocalStack (a loopback proxy injects them): bounded retries with
backoff recover from throttling, 5xx, delays and dropped connections; the bounds hold; every call returns
one verified signature or one error."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import signers
from signers import BackendUnavailableError, Signer, SignerError, ThrottledError
from tests.aws_kms.conftest import FIXED_ADDRESS
from tests.aws_kms.fault_proxy import FaultProxy
from tests.fixtures.localstack import KmsTestKey, LocalStack


def _signer(localstack: LocalStack, key: KmsTestKey, proxy: FaultProxy, **attributes: str) -> Signer:
    return signers.load_signer(localstack.uri(key.key_id, endpoint=proxy.endpoint, **attributes))


def _signs(signer: Signer) -> bool:
    digest = os.urandom(32)
    return signer.sign_digest(digest).recover(digest) == signer.address


@pytest.mark.parametrize(
    "faults",
    [
        ("throttle",),
        ("throttle", "throttle", "throttle"),
        ("500",),
        ("502",),
        ("drop",),
        ("empty-200",),
        ("lose-response",),
        ("500", "drop", "throttle"),
    ],
    ids=lambda faults: "+".join(faults),
)
def test_transient_faults_are_retried(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy, faults: tuple[str, ...]
) -> None:
    with _signer(localstack, fixed_key, proxy) as signer:  # max-attempts 4 by default
        proxy.inject("Sign", *faults)
        assert _signs(signer)
        assert proxy.count("Sign") == len(faults) + 1
        assert signer.backend.connection.retries == len(faults)


def test_lost_response_still_gives_exactly_one_signature(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy
) -> None:
    """KMS signed, the answer was lost, the retry signs again (another random k): the caller gets one
    signature, the verified one."""
    with _signer(localstack, fixed_key, proxy) as signer:
        proxy.inject("Sign", "lose-response", "lose-response")
        digest = os.urandom(32)
        signature = signer.sign_digest(digest)
    assert signature.recover(digest) == FIXED_ADDRESS
    assert proxy.count("Sign", "lose-response") == 2 and proxy.count("Sign", None) == 1


def test_persistent_throttling_stops_at_the_bound(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy
) -> None:
    with _signer(localstack, fixed_key, proxy, **{"max-attempts": "3"}) as signer:
        proxy.always("Sign", "throttle")
        with pytest.raises(ThrottledError) as caught:
            signer.sign_digest(os.urandom(32))
        assert proxy.count("Sign") == 3  # exactly the bound: botocore's own retries are off
        assert "after 3 attempts" in str(caught.value) and "rate-limit" in caught.value.hint
        proxy.always("Sign", None)
        assert _signs(signer)


def test_persistent_server_errors_stop_at_the_bound(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy
) -> None:
    with _signer(localstack, fixed_key, proxy, **{"max-attempts": "2"}) as signer:
        proxy.always("Sign", "500")
        with pytest.raises(BackendUnavailableError) as caught:
            signer.sign_digest(os.urandom(32))
    assert type(caught.value) is BackendUnavailableError
    assert "KMSInternalException" in str(caught.value) and proxy.count("Sign") == 2


@pytest.mark.parametrize("operation", ["Sign", "GetPublicKey", "DescribeKey"])
def test_answers_without_their_result_stop_at_the_bound(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy, operation: str
) -> None:
    """A 200 with an empty body (LocalStack answers so while it shuts down) is a failed attempt, never a
    KeyError: retried, then one BackendUnavailableError naming what was missing."""
    member = {"Sign": "Signature", "GetPublicKey": "PublicKey", "DescribeKey": "KeyMetadata"}[operation]
    proxy.always(operation, "empty-200")
    with (
        pytest.raises(BackendUnavailableError) as caught,
        _signer(localstack, fixed_key, proxy, **{"max-attempts": "2"}) as signer,
    ):
        signer.sign_digest(os.urandom(32))
    assert type(caught.value) is BackendUnavailableError
    assert f"without {member} (HTTP 200)" in str(caught.value) and "after 2 attempts" in str(caught.value)
    assert proxy.count(operation, "empty-200") == 2
    proxy.always(operation, None)
    with _signer(localstack, fixed_key, proxy) as signer:
        assert _signs(signer)


def test_slow_answer_hits_the_read_timeout_then_retries(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy
) -> None:
    with _signer(localstack, fixed_key, proxy, **{"read-timeout": "0.5"}) as signer:
        proxy.inject("Sign", ("delay", 3.0))
        started = time.monotonic()
        assert _signs(signer)
        elapsed = time.monotonic() - started
    assert proxy.count("Sign") == 2
    assert 0.5 <= elapsed < 2.5  # the timeout, not the 3 s delay, decided


def test_a_hanging_service_fails_within_the_bounds(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy
) -> None:
    with _signer(localstack, fixed_key, proxy, **{"read-timeout": "0.3", "max-attempts": "3"}) as signer:
        proxy.always("Sign", ("delay", 30.0))
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as caught:
            signer.sign_digest(os.urandom(32))
        elapsed = time.monotonic() - started
    assert "ReadTimeoutError" in str(caught.value) and "after 3 attempts" in str(caught.value)
    assert proxy.count("Sign") == 3
    assert elapsed < 3 * 0.3 + 0.4 + 1.0  # three timeouts, two short backoffs, some slack


def test_rate_limit_holds_across_threads(localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy) -> None:
    rate, signatures = 10.0, 25
    with _signer(localstack, fixed_key, proxy, **{"rate-limit": str(rate)}) as signer:
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: _signs(signer), range(signatures)))
        elapsed = time.monotonic() - started
    assert results == [True] * signatures
    # a bucket of `rate` tokens starts full: the other signatures wait for refills at `rate` per second
    assert elapsed >= (signatures - rate) / rate * 0.95
    assert proxy.count("Sign") == signatures


def test_rate_limit_counts_retries(localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy) -> None:
    with _signer(localstack, fixed_key, proxy, **{"rate-limit": "4"}) as signer:
        proxy.inject("Sign", *["throttle"] * 3)
        started = time.monotonic()
        for _ in range(3):  # 3 signatures + 3 retries = 6 requests through a 4/s bucket of 4
            assert _signs(signer)
        assert time.monotonic() - started >= (6 - 4) / 4 * 0.95


def test_rate_limit_wait_is_bounded_by_the_read_timeout(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy
) -> None:
    """A caller that would wait longer than read-timeout for a rate-limit slot gets ThrottledError at once,
    and nothing is sent to KMS for it (the bucket used to make it wait without bound)."""
    with _signer(localstack, fixed_key, proxy, **{"rate-limit": "2", "read-timeout": "0.3"}) as signer:
        started = time.monotonic()
        signed = 0
        with pytest.raises(ThrottledError, match="client-side rate limit of 2 requests/s") as caught:
            for _ in range(5):  # a bucket of 2 (partly spent loading the key): the slot after it is 0.5 s away
                assert _signs(signer)
                signed += 1
        assert time.monotonic() - started < 1.0
    assert signed < 5 and proxy.count("Sign") == signed
    assert "read-timeout=" in caught.value.hint


def test_concurrent_signing_under_random_faults(
    localstack: LocalStack, fixed_key: KmsTestKey, proxy: FaultProxy
) -> None:
    """32 threads, a fault in every third request: each call returns a verified signature or one error."""
    faults = ["throttle", None, None, "500", None, None, "drop", None, None, "lose-response", None, None]
    lock, counter = threading.Lock(), [0]
    with _signer(localstack, fixed_key, proxy, **{"max-attempts": "6"}) as signer:

        def one(_: int) -> str:
            with lock:
                fault = faults[counter[0] % len(faults)]
                counter[0] += 1
            if fault:
                proxy.inject("Sign", fault)
            digest = os.urandom(32)
            try:
                signature = signer.sign_digest(digest)
            except SignerError as error:
                return type(error).__name__
            return "ok" if signature.recover(digest) == FIXED_ADDRESS else "WRONG"

        with ThreadPoolExecutor(32) as pool:
            outcomes = list(pool.map(one, range(96)))
    assert "WRONG" not in outcomes
    assert outcomes.count("ok") >= 90  # a call can only fail after 6 faulted attempts in a row
