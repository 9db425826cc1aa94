"""The PKCS#11 backend: CKM_ECDSA over the 32-byte digest on a key that never leaves the token.

The token returns raw r||s (``signature_format = "rs"``); low-s, the recovery id and the self-check are the
core's. SoftHSM2's secp256k1 CKM_ECDSA is reported (SoftHSMv2 #901) to yield an invalid signature now and
then, so the core asks again up to ``invalid_signature_retries`` times before it fails loudly.

Threads and faults: see ``signers_pkcs11.module`` (one lock per module, one shared session per token, a
session lost under the signer reopened with the PIN read again from its source).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pkcs11
from pkcs11 import Mechanism
from pkcs11 import exceptions as p11x

from signers.backend import Backend
from signers.custody import CustodyReport
from signers.errors import (
    BackendUnavailableError,
    InvalidDigestError,
    KeyChangedError,
    KeyNotFoundError,
    SignatureVerificationError,
    SignerError,
)
from signers.keys import PublicKey
from signers.secrets import read_secret

from . import custody, keys
from .errors import token_error
from .module import Module, TokenSession, get_module, is_recoverable
from .uri import Pkcs11URI

log = logging.getLogger("signers.pkcs11")


class Pkcs11Backend(Backend):
    signature_format = "rs"
    invalid_signature_retries = 3
    concurrent_calls = 1  # the module lock (signers_pkcs11.module) lets one call in at a time

    def __init__(self, uri: Pkcs11URI) -> None:
        self._uri = uri
        self._description = uri.text()
        self._module: Module = get_module(uri.module_path)
        self._lock = self._module.lock
        self._lock_timeout = uri.lock_timeout
        with self._locked():
            self._tokens: TokenSession = self._module.token_session(self._module.find_token(uri))
        self._key: Any = None
        self._generation = -1
        self._public: PublicKey | None = None
        self._always_authenticate = False
        self.public_key_source = ""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The module lock, waited for at most this signer's lock-timeout (BackendUnavailableError after)."""
        self._lock.acquire(self._lock_timeout)
        try:
            yield
        finally:
            self._lock.release()

    # -- the key -------------------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        return f"token {self._tokens.label!r}"

    def _locate(self) -> tuple[Any, PublicKey]:
        """Find the key in the current session and establish its public key (under the module lock)."""
        session = self._tokens.get(self._uri.pin_source)
        self._probe(session)
        key = keys.find_private_key(session, self._uri.object, self._uri.id, self._where)
        keys.check_signing_key(key, self._where)
        self._always_authenticate = bool(keys._read(key, "ALWAYS_AUTHENTICATE"))
        public, source = keys.public_key_of(session, key, self._where, self._context_pin())
        self.public_key_source = source
        return key, public

    def _probe(self, session: Any) -> None:
        """Fail fast on a dead session with a call that leaves no state: a search started on one leaves
        python-pkcs11 complaining on stderr when its iterator is collected."""
        if self._tokens.token.flags & pkcs11.TokenFlag.RNG:
            try:
                session.generate_random(64)
            except p11x.PKCS11Error as exc:
                if is_recoverable(exc):
                    raise

    def _current_key(self) -> Any:
        """The key handle of the current session, found again (and checked unchanged) after a reopen."""
        if self._key is None or self._generation != self._tokens.generation:
            key, public = self._locate()
            if self._public is not None and public.point != self._public.point:
                raise KeyChangedError(
                    f"pkcs11: {self._uri.key_selector()} on {self._where} is now another key ({public.address}), "
                    f"not the key this signer was loaded with ({self._public.address}); nothing was signed",
                    expected=self._public.address,
                    actual=public.address,
                    hint="a key was replaced on the token: point the URI at the intended key (its id)",
                )
            self._key, self._generation = key, self._tokens.generation
            self._public = self._public or public
        return self._key

    def _context_pin(self) -> str | None:
        """Keys with CKA_ALWAYS_AUTHENTICATE need the PIN again for each signature (read from its source)."""
        return read_secret(self._uri.pin_source, "pin").reveal() if self._always_authenticate else None

    def _recover(self, exc: BaseException) -> None:
        log.warning("pkcs11: %s on %s; reopening the session", type(exc).__name__, self._where)
        self._module.recover(exc)
        self._tokens.drop()
        # after a re-initialisation or a re-inserted token, the Token object itself may be stale
        self._tokens = self._module.token_session(self._module.find_token(self._uri))

    def _with_recovery(self, what: str, call: Any, failed: BaseException | None = None) -> Any:
        """Run ``call(key)`` under the module lock; on a lost session reopen everything and try once more.
        ``failed``: a recoverable error the caller's own first attempt already met."""
        with self._locked():
            if failed is not None:
                self._recover(failed)
            while True:
                try:
                    return call(self._current_key())
                except p11x.PKCS11Error as exc:
                    if not is_recoverable(exc):
                        raise self._error(exc, what) from None
                    if failed is not None:
                        raise BackendUnavailableError(
                            f"pkcs11: {what} on {self._where} failed again after reopening the session "
                            f"({type(exc).__name__})"
                        ) from None
                    failed = exc
                    self._recover(exc)

    def _error(self, exc: p11x.PKCS11Error, what: str) -> SignerError:
        return token_error(exc, what, self._where, self._uri.key_selector())

    # -- Backend --------------------------------------------------------------------------------------
    def public_key(self) -> PublicKey:
        def read(_key: Any) -> PublicKey:
            if self._public is None:  # _current_key records it with the handle it returns
                raise KeyNotFoundError(
                    f"pkcs11: {self._uri.key_selector()} on {self._where}: no public key was read",
                    hint="check that the key (and its public point) is on the token: pkcs11-tool --list-objects",
                )
            return self._public

        with self._locked():
            self._key = None  # fetch it anew: checks the key is still there and usable
            return self._with_recovery("reading the public key", read)  # type: ignore[no-any-return]

    def sign(self, digest: bytes) -> bytes:
        # CKM_ECDSA signs whatever length it is given (33 bytes included): refuse before the token sees it
        if type(digest) is not bytes:
            if not isinstance(digest, (bytes, bytearray)):
                raise InvalidDigestError(f"pkcs11: digest must be 32 bytes, got {type(digest).__name__}")
            digest = bytes(digest)
        if len(digest) != 32:
            raise InvalidDigestError(f"pkcs11: digest must be 32 bytes, got {len(digest)}")
        if self._always_authenticate:
            return self._with_recovery(  # type: ignore[no-any-return]
                "signing", lambda key: key.sign(digest, mechanism=Mechanism.ECDSA, pin=self._context_pin())
            )
        # the hot path: the lock (bounded wait), the cached key handle, the device call; everything else is off it
        self._lock.acquire(self._lock_timeout)
        try:
            key = self._key
            if key is not None and self._generation == self._tokens.generation:
                try:
                    return key.sign(digest, mechanism=Mechanism.ECDSA)  # type: ignore[no-any-return]
                except p11x.PKCS11Error as exc:
                    if not is_recoverable(exc):
                        raise self._error(exc, "signing") from None
                    failed: BaseException | None = exc
            else:
                failed = None
            return self._with_recovery(  # type: ignore[no-any-return]
                "signing", lambda key: key.sign(digest, mechanism=Mechanism.ECDSA), failed
            )
        finally:
            self._lock.release()

    def on_invalid_signature(self, error: SignatureVerificationError) -> None:
        log.warning("pkcs11: %s returned a signature that failed the self-check; asking again", self._where)

    def describe(self) -> str:
        return self._description

    def create_like(self, label: str | None = None) -> str:
        """A new secp256k1 key generated on the same token (sign-only, never extractable), reached with the same
        module and PIN source; its URI selects it by label and a fresh id."""
        label = label or f"{self._uri.object or 'key'}-{secrets.token_hex(4)}"
        with self._locked():
            session = self._tokens.get(self._uri.pin_source)
            try:
                _, key_id = keys.generate_key(session, label, None, self._where)
            except p11x.PKCS11Error as exc:
                raise self._error(exc, "generating a key") from None
        return replace(self._uri, object=label, id=key_id).text()

    def custody(self) -> CustodyReport:
        def read(key: Any) -> CustodyReport:
            return custody.report(self, self._module, self._tokens.token, key, self._public)

        return self._with_recovery("reading custody facts", read)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Nothing to release per signer: the session is shared by the process's signers on this token."""
        self._key = None
