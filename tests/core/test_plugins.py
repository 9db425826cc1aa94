"""The plugin system: backends registered through hooks, policies that refuse before a key is used,
an audit hook that sees every signature, and third-party plugins loaded through the same manager."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import coincurve
import pytest

import signers
from signers import (
    Backend,
    ConfigurationError,
    PolicyViolationError,
    PublicKey,
    SignatureVerificationError,
    SignRequest,
    UnknownSchemeError,
    hookimpl,
)
from signers.audit import AuditTrail
from signers.plugins import BackendInfo
from signers.uri import SignerURI


class CountingBackend(Backend):
    """A real in-memory backend that counts calls and can be told to sign with the wrong key."""

    signature_format = "rs"
    invalid_signature_retries = 2

    def __init__(self, bad_signatures: int = 0) -> None:
        self.key = coincurve.PrivateKey()
        self.wrong = coincurve.PrivateKey()
        self.calls = 0
        self.bad_signatures = bad_signatures
        self.invalid_seen: list[SignatureVerificationError] = []

    def public_key(self) -> PublicKey:
        return PublicKey(self.key.public_key.format(False))

    def sign(self, digest: bytes) -> bytes:
        self.calls += 1
        key = self.wrong if self.calls <= self.bad_signatures else self.key
        return key.sign_recoverable(digest, hasher=None)[:64]

    def on_invalid_signature(self, error: SignatureVerificationError) -> None:
        self.invalid_seen.append(error)

    def describe(self) -> str:
        return "counting:test"


class Plugin:
    """A third-party plugin: a backend scheme, a policy and a metrics hook."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.refuse_kind: str | None = None
        self.backend = CountingBackend()

    @hookimpl
    def register_backends(self, register) -> None:  # type: ignore[no-untyped-def]
        register("counting", lambda uri, **options: self.backend, "a test backend")

    @hookimpl
    def before_sign(self, request: SignRequest) -> None:
        if request.kind == self.refuse_kind:
            raise PolicyViolationError(f"{request.kind} refused by policy")

    @hookimpl
    def after_sign(self, request: SignRequest, signature: signers.Signature) -> None:
        self.seen.append((request.kind, signature.to_hex()))


@pytest.fixture
def plugin() -> Iterator[Plugin]:
    manager = signers.get_plugin_manager()
    plugin = Plugin()
    manager.register(plugin, name="test-plugin")
    signers.plugins._backends = None  # the scheme table is built once per process; rebuild it with ours
    yield plugin
    manager.unregister(plugin)
    signers.plugins._backends = None


def test_third_party_scheme_is_loaded_through_the_manager(plugin: Plugin) -> None:
    assert isinstance(signers.backends()["counting"], BackendInfo)
    assert signers.backends()["counting"].plugin == "test-plugin"
    signer = signers.load_signer("counting:anything")
    assert signer.address == plugin.backend.public_key().address
    assert "local" in signers.backends()  # the built-in plugin arrives through the same path


def test_policy_refuses_before_the_backend_is_touched(plugin: Plugin) -> None:
    signer = signers.load_signer("counting:x")
    plugin.refuse_kind = "message"
    with pytest.raises(PolicyViolationError, match="message refused"):
        signer.sign_message("no")
    assert plugin.backend.calls == 0
    assert plugin.seen == []
    signer.sign_digest(os.urandom(32))
    assert plugin.backend.calls == 1


def test_after_sign_sees_every_signature(plugin: Plugin) -> None:
    signer = signers.load_signer("counting:x")
    a = signer.sign_digest(os.urandom(32))
    b = signer.sign_message("hello")
    assert plugin.seen == [("digest", a.to_hex()), ("message", b.signature.to_0x_hex())]


def test_invalid_signatures_are_retried_then_refused(plugin: Plugin) -> None:
    signer = signers.load_signer("counting:x")
    plugin.backend.bad_signatures = 2  # two bad, then good: within invalid_signature_retries=2
    digest = os.urandom(32)
    assert signer.sign_digest(digest).recover(digest) == signer.address
    assert plugin.backend.calls == 3 and len(plugin.backend.invalid_seen) == 2
    plugin.backend.calls, plugin.backend.bad_signatures = 0, 10
    with pytest.raises(SignatureVerificationError, match=signer.address):
        signer.sign_digest(digest)
    assert plugin.backend.calls == 3
    assert len(plugin.seen) == 1  # the refused signature never reached after_sign


def test_duplicate_scheme_is_a_clear_error(plugin: Plugin) -> None:
    class Clash:
        @hookimpl
        def register_backends(self, register) -> None:  # type: ignore[no-untyped-def]
            register("counting", lambda uri, **o: None)

    manager = signers.get_plugin_manager()
    clash = Clash()
    manager.register(clash, name="clash")
    signers.plugins._backends = None
    try:
        with pytest.raises(ConfigurationError, match="registered by both"):
            signers.backends()
    finally:
        manager.unregister(clash)
        signers.plugins._backends = None


def test_unknown_scheme() -> None:
    with pytest.raises(UnknownSchemeError, match="signers backends"):
        signers.load_signer("vault://secret/key")


@pytest.mark.parametrize("uri", ["no-colon", "1bad:x", "local:env:X?a=1&a=2", "local:env:X?junk"])
def test_malformed_uris(uri: str) -> None:
    with pytest.raises(ConfigurationError):
        signers.load_signer(uri)


def test_audit_trail_records_signatures_and_refusals(plugin: Plugin, tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.db").enable()
    try:
        signer = signers.load_signer("counting:x")
        digest = os.urandom(32)
        sig = signer.sign_digest(digest)
        plugin.refuse_kind = "message"
        with pytest.raises(PolicyViolationError):
            signer.sign_message("no")
    finally:
        trail.disable()
    signed, refused = trail.entries()
    assert (signed.outcome, signed.digest, signed.signature, signed.address) == (
        "signed",
        "0x" + digest.hex(),
        sig.to_hex(),
        signer.address,
    )
    assert refused.outcome == "refused" and "refused by policy" in (refused.reason or "")
    assert refused.signature is None and refused.kind == "message"
    assert trail.entries(outcome="refused") == [refused]


def test_uri_parsing() -> None:
    uri = signers.uri.parse("aws-kms://alias/owner?region=eu-west-1&endpoint-url=http%3A%2F%2F127.0.0.1%3A4566")
    assert uri == SignerURI(
        "aws-kms", "alias/owner", {"region": "eu-west-1", "endpoint-url": "http://127.0.0.1:4566"}, uri.text
    )
    assert signers.uri.parse_attributes("token=a%20b;id=%01") == {"token": "a b", "id": "\x01"}


def test_audit_trail_records_failures_that_reached_the_backend(plugin: Plugin, tmp_path: Path) -> None:
    """A backend that keeps signing with another key (a re-pointed alias, a faulty device) is on record."""
    trail = AuditTrail(tmp_path / "audit.db").enable()
    try:
        signer = signers.load_signer("counting:x")
        plugin.backend.bad_signatures = 10
        with pytest.raises(SignatureVerificationError):
            signer.sign_digest(os.urandom(32))

        class Broken:
            @hookimpl
            def before_sign(self, request: SignRequest) -> None:
                raise RuntimeError("policy bug")

        broken = Broken()
        signers.get_plugin_manager().register(broken)
        try:
            with pytest.raises(RuntimeError):
                signer.sign_message("x")
        finally:
            signers.get_plugin_manager().unregister(broken)
    finally:
        trail.disable()
    failed, refused = trail.entries()
    assert failed.outcome == "failed" and failed.signature is None
    assert "SignatureVerificationError" in (failed.reason or "") and signer.address in (failed.reason or "")
    assert refused.outcome == "refused" and "RuntimeError: policy bug" in (refused.reason or "")
