"""Signer.sign_digests: many digests on the one request path (policies first, then each converted and audited)."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest
from eth_hash.auto import keccak

from signers import hookimpl, hookspecs
from signers.errors import BackendUnavailableError, PolicyViolationError
from signers.local import LocalBackend
from signers.signature import Signature
from signers.signer import Signer, SignRequest

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


class Counting(LocalBackend):
    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__(KEY, "counting key")
        self.signed: list[bytes] = []
        self.fail_at = fail_at

    def sign(self, digest: bytes) -> bytes:
        if len(self.signed) == self.fail_at:
            raise BackendUnavailableError("the device went away")
        self.signed.append(digest)
        return super().sign(digest)


class Recorder:
    def __init__(self, refuse: bytes | None = None) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.refuse = refuse

    @hookimpl
    def before_sign(self, request: SignRequest) -> None:
        self.events.append(("before", request.digest))
        if request.digest == self.refuse:
            raise PolicyViolationError("refused by the test policy")

    @hookimpl
    def after_sign(self, request: SignRequest, signature: Signature) -> None:
        self.events.append(("signed", request.digest))

    @hookimpl
    def sign_failed(self, request: SignRequest, error: Any) -> None:
        self.events.append(("failed", request.digest))


def _signer(backend: Counting, recorder: Recorder) -> Signer:
    manager = pluggy.PluginManager("signers")
    manager.add_hookspecs(hookspecs)
    manager.register(recorder)
    return Signer(backend, plugin_manager=manager)


DIGESTS = [keccak(b"d%d" % i) for i in range(5)]


def test_each_digest_is_checked_then_signed_then_audited_in_order() -> None:
    backend, recorder = Counting(), Recorder()
    signer = _signer(backend, recorder)
    signatures = signer.sign_digests(DIGESTS)
    assert [s.recover(d) for s, d in zip(signatures, DIGESTS, strict=True)] == [signer.address] * 5
    assert signatures == [signer.sign_digest(d) for d in DIGESTS]  # RFC 6979: the same as one at a time
    assert recorder.events[:10] == [("before", d) for d in DIGESTS] + [("signed", d) for d in DIGESTS]


def test_one_refusal_and_nothing_is_signed() -> None:
    backend, recorder = Counting(), Recorder(refuse=DIGESTS[3])
    with pytest.raises(PolicyViolationError):
        _signer(backend, recorder).sign_digests(DIGESTS)
    assert backend.signed == []
    assert [kind for kind, _ in recorder.events] == ["before"] * 4


def test_a_backend_failure_records_every_request_left_without_a_signature() -> None:
    backend, recorder = Counting(fail_at=2), Recorder()
    with pytest.raises(BackendUnavailableError):
        _signer(backend, recorder).sign_digests(DIGESTS)
    outcomes = recorder.events[5:]
    assert outcomes == [("signed", d) for d in DIGESTS[:2]] + [("failed", d) for d in DIGESTS[2:]]
