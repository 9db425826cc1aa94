"""Keys that cannot sign and services that cannot answer give a clear error, within a bounded time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import signers
from signers import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    KeyDisabledError,
    KeyNotFoundError,
    WrongCurveError,
)

QUICK = 3.0  # seconds: an answer the service gives at once (refusals are never retried)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    start = time.monotonic()
    yield
    elapsed = time.monotonic() - start
    assert elapsed < seconds, f"took {elapsed:.2f} s, bound {seconds} s"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_disabled_version(gcp_kms_emulator: Any) -> None:
    key = gcp_kms_emulator.create_key()
    gcp_kms_emulator.set_state(key, "DISABLED")
    with within(QUICK), pytest.raises(KeyDisabledError, match="DISABLED, not ENABLED") as raised:
        signers.load_signer(gcp_kms_emulator.uri(key))
    assert "enable the key" in str(raised.value)


def test_disabled_after_loading(gcp_kms_emulator: Any) -> None:
    key = gcp_kms_emulator.create_key()
    with signers.load_signer(gcp_kms_emulator.uri(key)) as signer:
        gcp_kms_emulator.set_state(key, "DISABLED")
        with within(QUICK), pytest.raises(KeyDisabledError, match="current state is: DISABLED"):
            signer.sign_digest(os.urandom(32))
        gcp_kms_emulator.set_state(key, "ENABLED")
        digest = os.urandom(32)
        assert signer.sign_digest(digest).recover(digest) == signer.address


def test_destroyed_version(gcp_kms_emulator: Any) -> None:
    key = gcp_kms_emulator.create_key(destroy_delay_s=0)
    with signers.load_signer(gcp_kms_emulator.uri(key)) as signer:
        destroyed = gcp_kms_emulator.client.destroy_crypto_key_version(request={"name": key}, timeout=5)
        assert destroyed.state.name == "DESTROYED"
        with within(QUICK), pytest.raises(KeyDisabledError, match="DESTROYED"):
            signer.sign_digest(os.urandom(32))
    with within(QUICK), pytest.raises(KeyDisabledError, match="DESTROYED, not ENABLED"):
        signers.load_signer(gcp_kms_emulator.uri(key))


def test_destroy_scheduled_version(gcp_kms_emulator: Any) -> None:
    key = gcp_kms_emulator.create_key()  # default: destruction 30 days after the request
    scheduled = gcp_kms_emulator.client.destroy_crypto_key_version(request={"name": key}, timeout=5)
    assert scheduled.state.name == "DESTROY_SCHEDULED"
    with within(QUICK), pytest.raises(KeyDisabledError, match="DESTROY_SCHEDULED"):
        signers.load_signer(gcp_kms_emulator.uri(key))


@pytest.mark.parametrize(("algorithm", "level"), [("EC_SIGN_P256_SHA256", "SOFTWARE"), ("EC_SIGN_P384_SHA384", "HSM")])
def test_wrong_algorithm(gcp_kms_emulator: Any, algorithm: str, level: str) -> None:
    key = gcp_kms_emulator.create_key(algorithm=algorithm, protection_level=level)
    with within(QUICK), pytest.raises(WrongCurveError, match=algorithm) as raised:
        signers.load_signer(gcp_kms_emulator.uri(key))
    assert "secp256k1" in str(raised.value).lower()


def test_unknown_key(gcp_kms_emulator: Any) -> None:
    ring = gcp_kms_emulator.key_ring()
    for name in (f"{ring}/cryptoKeys/nope/cryptoKeyVersions/1", f"{ring}-missing/cryptoKeys/k/cryptoKeyVersions/1"):
        with within(QUICK), pytest.raises(KeyNotFoundError, match="not found") as raised:
            signers.load_signer(gcp_kms_emulator.uri(name))
        assert "signers gcp-kms list" in str(raised.value)


def test_unknown_version_of_existing_key(gcp_kms_emulator: Any) -> None:
    key = gcp_kms_emulator.create_key()
    with within(QUICK), pytest.raises(KeyNotFoundError):
        signers.load_signer(gcp_kms_emulator.uri(key[:-1] + "7"))


def test_unreachable_endpoint() -> None:
    name = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
    uri = f"gcp-kms://{name}?endpoint=127.0.0.1:{free_port()}&deadline=1.5&timeout=0.5"
    with within(1.5 + 0.5 + 1.0), pytest.raises(BackendUnavailableError, match="did not answer within") as raised:
        signers.load_signer(uri)
    assert "the request was not signed" in str(raised.value)


def test_outage_during_signing_is_bounded(gcp_kms_emulator: Any, gcp_kms_key: str) -> None:
    with signers.load_signer(gcp_kms_emulator.uri(gcp_kms_key, deadline=1, timeout=0.5)) as signer:
        before = gcp_kms_emulator.control.stats().get("AsymmetricSign", 0)
        with (
            gcp_kms_emulator.faults(scope=gcp_kms_key, unavailable=-1),
            within(1 + 0.5 + 1.0),
            pytest.raises(BackendUnavailableError, match="UNAVAILABLE|unavailable"),
        ):
            signer.sign_digest(os.urandom(32))
        assert gcp_kms_emulator.control.stats()["AsymmetricSign"] - before >= 2  # it did retry
        with gcp_kms_emulator.faults(scope=gcp_kms_key, unavailable=2):  # a short outage is ridden out
            digest = os.urandom(32)
            assert signer.sign_digest(digest).recover(digest) == signer.address


def test_slow_service_hits_the_deadline(gcp_kms_emulator: Any, gcp_kms_key: str) -> None:
    with signers.load_signer(gcp_kms_emulator.uri(gcp_kms_key, deadline=1, timeout=0.25)) as signer:
        with (
            gcp_kms_emulator.faults(scope=gcp_kms_key, latency_ms=600),
            within(1 + 0.25 + 1.0),
            pytest.raises(BackendUnavailableError, match="Deadline|deadline"),
        ):
            signer.sign_digest(os.urandom(32))
        with gcp_kms_emulator.faults(scope=gcp_kms_key, latency_ms=50):  # slow but within the timeout
            digest = os.urandom(32)
            assert signer.sign_digest(digest).recover(digest) == signer.address


async def test_async_outage_is_bounded(gcp_kms_emulator: Any, gcp_kms_key: str) -> None:
    signer = signers.load_signer(gcp_kms_emulator.uri(gcp_kms_key, deadline=1, timeout=0.5))
    try:
        with (
            gcp_kms_emulator.faults(scope=gcp_kms_key, unavailable=-1),
            within(1 + 0.5 + 1.0),
            pytest.raises(BackendUnavailableError),
        ):
            await signer.asign_digest(os.urandom(32))
        with (
            gcp_kms_emulator.faults(scope=gcp_kms_key, latency_ms=600),
            within(1 + 0.5 + 1.0),
            pytest.raises(BackendUnavailableError),
        ):
            await signer.asign_digest(os.urandom(32))
        gcp_kms_emulator.set_state(gcp_kms_key, "DISABLED")
        try:
            with within(QUICK), pytest.raises(KeyDisabledError):
                await signer.asign_digest(os.urandom(32))
        finally:
            gcp_kms_emulator.set_state(gcp_kms_key, "ENABLED")
    finally:
        await signer.backend.aclose()  # type: ignore[attr-defined]
        signer.close()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k", "append /cryptoKeyVersions/N"),
        ("gcp-kms://projects/p/keyRings/r", "not a Cloud KMS key version"),
        (
            "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1?endpoint=10.1.2.3:9010",
            "loopback",
        ),
        (
            "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1?endpoint=localhost",
            "host:port",
        ),
        (
            "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1?region=x",
            "unknown URI attribute",
        ),
        (
            "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1?endpoint=127.0.0.1:1&timeout=soon",
            "seconds",
        ),
    ],
)
def test_bad_uris(uri: str, expected: str) -> None:
    with within(QUICK), pytest.raises(ConfigurationError, match=expected):
        signers.load_signer(uri)


_VERSION = "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1?endpoint=127.0.0.1:1"


@pytest.mark.parametrize(
    "attributes",
    ["deadline=inf", "timeout=inf", "deadline=nan", "timeout=-1", "deadline=0", "deadline=601", "timeout=1e9"],
)
def test_unbounded_or_absurd_times_are_refused(attributes: str) -> None:
    """deadline=inf used to be accepted (only > 0 was checked) and a call to a dead endpoint then hung forever."""
    with within(QUICK), pytest.raises(ConfigurationError, match="not a usable number of seconds") as raised:
        signers.load_signer(f"{_VERSION}&{attributes}")
    assert "at most 600 s" in str(raised.value)


@pytest.mark.parametrize(
    "options",
    [{"deadline": float("inf")}, {"timeout": float("nan")}, {"integrity_retries": 10**9}, {"integrity_retries": -1}],
    ids=["deadline-inf", "timeout-nan", "integrity-huge", "integrity-negative"],
)
def test_unbounded_options_are_refused(options: dict[str, float]) -> None:
    with within(QUICK), pytest.raises(ConfigurationError, match="gcp-kms: (deadline|timeout|integrity_retries)="):
        signers.load_signer(_VERSION, **options)


def test_cli_address_with_infinite_deadline_fails_at_once() -> None:
    """`signers address '...&deadline=inf'` hung forever against a dead endpoint; now a clear error at once."""
    command = [str(Path(sys.executable).with_name("signers")), "address", f"{_VERSION}&deadline=inf"]
    with within(30):
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert out.stderr.startswith("error: ") and "deadline='inf'" in out.stderr, out.stderr


def test_missing_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with within(QUICK), pytest.raises(AuthenticationError, match="Application Default Credentials") as raised:
        signers.load_signer("gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1")
    assert "gcloud auth application-default login" in str(raised.value)


async def test_async_unreachable_endpoint() -> None:
    """The native async path (its own grpc.aio channel) is bounded too."""
    from signers_gcp_kms import CallPolicy, GcpKmsBackend

    name = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
    backend = GcpKmsBackend(name, endpoint=f"127.0.0.1:{free_port()}", policy=CallPolicy(timeout=0.5, deadline=1.5))
    try:
        with within(1.5 + 0.5 + 1.0), pytest.raises(BackendUnavailableError, match="did not answer within"):
            await backend.asign(os.urandom(32))
    finally:
        await backend.aclose()
        backend.close()
