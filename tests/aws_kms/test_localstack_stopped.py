"""LocalStack stopped while a signer is busy: every call made before gives a verified signature, the calls
after give BackendUnavailableError; never a wrong signature. Runs on a second, private LocalStack so the
shared one stays up for the other tests."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

import signers
from signers import BackendUnavailableError, SignerError
from tests.fixtures.localstack import LocalStack, kms_ready, run_script

PRIVATE_PORT = 4599


@pytest.fixture
def private_localstack(localstack: LocalStack) -> Iterator[LocalStack]:
    # depends on `localstack` for the test environment (credentials, region); runs its own instance
    if kms_ready(PRIVATE_PORT):
        raise RuntimeError(f"port {PRIVATE_PORT} already serves a LocalStack; this test needs it to itself")
    run_script("start", PRIVATE_PORT)
    instance = LocalStack(PRIVATE_PORT, started_here=True)
    try:
        yield instance
    finally:
        run_script("stop", PRIVATE_PORT)  # idempotent: a no-op when the test already stopped it


def test_stopping_localstack_mid_run_gives_a_clear_error(private_localstack: LocalStack) -> None:
    key = private_localstack.create_key()
    outcomes: list[str] = []
    errors: list[SignerError] = []
    enough = threading.Event()
    uri = private_localstack.uri(key.key_id, **{"max-attempts": "3", "connect-timeout": "1", "read-timeout": "2"})
    with signers.load_signer(uri) as signer:

        def keep_signing() -> None:
            while True:
                digest = os.urandom(32)
                try:
                    signature = signer.sign_digest(digest)
                except SignerError as error:
                    errors.append(error)
                    return
                outcomes.append("ok" if signature.recover(digest) == key.address else "WRONG")
                if len(outcomes) >= 5:
                    enough.set()

        worker = threading.Thread(target=keep_signing)
        worker.start()
        assert enough.wait(60), "no signatures before the stop"
        # LocalStack's graceful shutdown can hang on in-flight requests: give it 2 s before the kill
        run_script("stop", PRIVATE_PORT, LOCALSTACK_STOP_TIMEOUT="2")
        worker.join(60)
        assert not worker.is_alive()
        assert not kms_ready(PRIVATE_PORT)
        with pytest.raises(BackendUnavailableError) as after:
            signer.sign_digest(os.urandom(32))

    assert outcomes and set(outcomes) == {"ok"}
    assert len(errors) == 1 and isinstance(errors[0], BackendUnavailableError)
    assert "after 3 attempts" in str(after.value) and f"127.0.0.1:{PRIVATE_PORT}" in str(after.value)
    assert "nothing was signed" in after.value.hint
