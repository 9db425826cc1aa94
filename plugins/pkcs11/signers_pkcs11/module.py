"""PKCS#11 modules and sessions, shared by every pkcs11: signer of the process, safe from any thread.

Concurrency design
------------------
python-pkcs11 calls ``C_Initialize(NULL)``: no locking flags, which by the PKCS#11 standard means the
application promises never to call into the library from two threads at once. libsofthsm2 holds us to it: a
session per thread crashes the process (segfault, malloc abort or hang) within seconds. So:

* one ``Module`` per module path per process, holding the ``pkcs11.lib`` and one ``ModuleLock`` (an RLock
  taken with a timeout); every call into the library (login, find, sign, keygen, attribute reads) runs
  under that lock, whatever the token. A device call that hangs holds the lock: the other threads give up
  after ``lock-timeout`` seconds (default 30) with BackendUnavailableError naming the module, instead of
  queueing behind it forever;
* one ``TokenSession`` per token per process: a single logged-in session that every signer on that token
  shares (PKCS#11 login state is per application and token anyway, and the key handles it finds are reused);
* only the device call is under the lock: digest checks, low-s, recovery and the self-check happen in the
  core, outside it, so with several threads the conversion of one signature overlaps the next device call.

Threads therefore get safety, not parallel device calls. Throughput on several cores comes from processes
(``signers_pkcs11.pool.SigningPool``): each worker process loads the module and logs in by itself.

Fault recovery
--------------
A session closed or invalidated under a signer (a logout by other code of the process, ``C_Finalize`` /
re-initialisation, a token re-inserted) is reopened transparently: the ``TokenSession`` is dropped, a new
session is opened and logged in with the PIN read again from its source, and the key is found again (and
checked to still be the same public key) before the one retry. A second failure is reported, not retried.

Re-initialisation (C_Finalize + C_Initialize) drops every session of the process, so it is rationed: a URI
naming a token that is not there re-initialises the module (to see a token created after load) at most once
per ``reinit_interval`` seconds (default 60) counted from the last initialisation; a loop of loads with a
mistyped token label fails fast and leaves the other signers' sessions alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import struct
import threading
import time
from types import TracebackType
from typing import Any

import pkcs11
from pkcs11 import Attribute, Token, _pkcs11
from pkcs11 import exceptions as p11x
from pkcs11.attributes import AttributeMapper

from signers.errors import (
    AmbiguousKeyError,
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
)
from signers.secrets import read_secret

from .errors import TokenNotFoundError, login_error
from .pin_check import verify_pin
from .uri import DEFAULT_LOCK_TIMEOUT, Pkcs11URI

log = logging.getLogger("signers.pkcs11")

#: errors after which the session (or the library) must be opened again, then the call retried once
RECOVERABLE: tuple[type[Exception], ...] = (
    p11x.SessionHandleInvalid,
    p11x.SessionClosed,
    p11x.UserNotLoggedIn,
    p11x.ObjectHandleInvalid,
    p11x.KeyHandleInvalid,
    p11x.TokenNotPresent,
    p11x.DeviceRemoved,
)


#: seconds between re-initialisations a missing token may trigger (each one drops every session)
DEFAULT_REINIT_INTERVAL = 60.0


class ModuleLock:
    """The re-entrant lock around every call into one module, acquired with a timeout.

    ``with lock:`` waits up to ``lock.timeout``; ``lock.acquire(t)`` / ``lock.release()`` up to ``t`` (a
    signer's own lock-timeout). Expiry raises BackendUnavailableError naming the module, never blocks forever."""

    def __init__(self, path: str, timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._lock = threading.RLock()

    def acquire(self, timeout: float | None = None) -> None:
        wait = self.timeout if timeout is None else timeout
        if not self._lock.acquire(timeout=wait):
            raise BackendUnavailableError(
                f"pkcs11: {self.path} is busy: another call into the module has not returned within {wait:g} s",
                hint="the HSM or its module may be hung (check the device, its service and network); "
                "raise lock-timeout= in the URI if calls are legitimately this slow; nothing was signed",
            )

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> ModuleLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._lock.release()


def _not_initialised(exc: BaseException) -> bool:
    # python-pkcs11 maps CKR_CRYPTOKI_NOT_INITIALIZED to a bare PKCS11Error with this text
    return type(exc) is p11x.PKCS11Error and "not initialized" in str(exc)


def is_recoverable(exc: BaseException) -> bool:
    return isinstance(exc, RECOVERABLE) or _not_initialised(exc)


def attribute_mapper() -> AttributeMapper:
    """python-pkcs11's mapper plus CKA_ALLOWED_MECHANISMS (an array of CK_MECHANISM_TYPE)."""
    mapper = AttributeMapper()
    size = struct.calcsize("L")
    mapper.register_handler(
        Attribute.ALLOWED_MECHANISMS,
        lambda values: b"".join(struct.pack("L", int(v)) for v in values),
        lambda data: [struct.unpack_from("L", data, i)[0] for i in range(0, len(data), size)],
    )
    return mapper


_PIN_KEY = secrets.token_bytes(32)  # per process: a PIN's keyed hash is useless outside it


def _pin_mac(pin: str) -> bytes:
    return hmac.new(_PIN_KEY, pin.encode(), hashlib.sha256).digest()


class TokenSession:
    """The one session this process keeps on a token, logged in as the user. Use under ``module.lock``."""

    def __init__(self, module: Module, token: Token) -> None:
        self.module = module
        self.token = token
        self.label = token.label
        self._session: Any = None
        self._login_source: str | None = None
        self._pin_mac: bytes | None = None
        #: bumped on every new session: signers re-find their key handles when it moved
        self.generation = 0

    def get(self, pin_source: str | None) -> Any:
        if self._session is None:
            self._session = self._open(pin_source)
            self.generation += 1
        elif pin_source != self._login_source:
            self._check_pin(pin_source)
        return self._session

    def _check_pin(self, pin_source: str | None) -> None:
        """A PIN the token did not check. PKCS#11 login is per application and token: a second signer on a
        logged-in token shares the login, and C_Login answers 'already logged in' before it looks at the PIN.
        So the PIN is compared with the one this process logged in with (a keyed hash; the PIN is not kept),
        or, when other code of the process logged the token in, checked by a login in a fresh process
        (``signers_pkcs11.pin_check``; it becomes the PIN compared with from then on)."""
        pin = read_secret(pin_source, "pin").reveal()
        if self._pin_mac is None:
            verify_pin(self.module.path, self.token.serial, self.label, pin, pin_source)
            self._login_source, self._pin_mac = pin_source, _pin_mac(pin)
            return
        if not hmac.compare_digest(_pin_mac(pin), self._pin_mac):
            raise AuthenticationError(
                f"pkcs11 token {self.label!r}: the PIN from {pin_source} was refused (wrong PIN: it is not the "
                f"PIN this process logged in with)",
                hint=f"put the token's user PIN in {pin_source}; the PIN itself is never shown",
            )

    def drop(self) -> None:
        """Forget the session (it is dead or logged out); the next ``get`` opens and logs in again.

        It is not closed: python-pkcs11's ``close`` logs the whole application out of the token, which would
        break a session opened meanwhile; a session handle that is still valid is released at finalize."""
        self._session = None
        self.generation += 1  # key handles found in the old session are stale from now on

    def _open(self, pin_source: str | None) -> Any:
        pin = read_secret(pin_source, "pin")  # read again at every login: a rotated PIN file is picked up
        mapper = attribute_mapper()
        # read-write so that key management (keygen, import) shares this one session with the signers
        rw = not (self.token.flags & pkcs11.TokenFlag.WRITE_PROTECTED)
        try:
            session = self.token.open(rw=rw, user_pin=pin.reveal(), attribute_mapper=mapper)
            self._login_source, self._pin_mac = pin_source, _pin_mac(pin.reveal())
            return session
        except p11x.UserAlreadyLoggedIn:
            # Still logged in (a dropped session of ours, or other code of the process): the token did not
            # check this PIN; it is checked here (see _check_pin) unless it is the one we logged in with.
            if self._pin_mac is None or pin_source != self._login_source:
                self._check_pin(pin_source)
            return self.token.open(rw=rw, attribute_mapper=mapper)
        except RECOVERABLE:
            raise
        except p11x.PKCS11Error as exc:
            if _not_initialised(exc):
                raise
            raise login_error(exc, self.label, pin_source) from None


class Module:
    """One loaded PKCS#11 module and the lock every call into it takes (see the module docstring)."""

    def __init__(self, path: str) -> None:
        if not os.path.isfile(path):
            raise ConfigurationError(
                f"PKCS#11 module {path} does not exist",
                hint="install the HSM vendor's module and point module-path= (or PKCS11_MODULE) at it; "
                "for SoftHSM2 run softhsm/install",
            )
        self.path = path
        self.lock = ModuleLock(path)
        #: a missing token re-initialises the module at most once per this many seconds (see module docstring)
        self.reinit_interval = DEFAULT_REINIT_INTERVAL
        try:
            #: owner: whether this process's signers initialised the module (else the application did, and
            #: signers never finalises it: that would end the application's sessions)
            self.lib, self.owner = _open_library(path)
        except p11x.PKCS11Error as exc:
            raise ConfigurationError(
                f"{path} could not be loaded as a PKCS#11 module: {exc}",
                hint="module-path must name the vendor's PKCS#11 shared library (.so)",
            ) from None
        self._sessions: dict[tuple[str, bytes], TokenSession] = {}
        self._initialised_at = time.monotonic()

    def reinitialize(self) -> None:
        """C_Finalize + C_Initialize: sees tokens created since load, clears a dead library state. Every
        session of the process dies with it; their signers reopen theirs on next use."""
        with self.lock:
            if self.owner:
                # fails when finalized behind python-pkcs11's back already; its flag is cleared either way
                with contextlib.suppress(p11x.PKCS11Error):
                    self.lib.finalize()
            self.lib.initialize()  # a shared module: only initialised again if its owner finalised it
            self._initialised_at = time.monotonic()
            for session in self._sessions.values():
                session.drop()

    def _may_reinitialize_for_missing_token(self) -> bool:
        """Whether a missing token may re-initialise now: not within ``reinit_interval`` of the last time,
        and never a module the application initialised (finalising it would end the application's sessions)."""
        return self.owner and time.monotonic() - self._initialised_at >= self.reinit_interval

    def recover(self, exc: BaseException) -> None:
        """After a recoverable error: re-initialise a library that was finalized, forget dead sessions."""
        with self.lock:
            if _not_initialised(exc):
                log.warning("pkcs11: %s was finalized under us; initialising it again", self.path)
                self.reinitialize()

    def tokens(self) -> list[Token]:
        """The initialised tokens (a free SoftHSM slot shows an uninitialised, label-less one)."""
        with self.lock:
            return [t for t in self.lib.get_tokens() if t.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED]

    def find_token(self, uri: Pkcs11URI) -> Token:
        """The one token matching the URI's token attributes. A token created after the module was
        initialised is only seen after re-initialising it, which drops every session of the process: that is
        done at most once per ``reinit_interval`` (never in a loop of loads with a mistyped label)."""
        with self.lock:
            for attempt in range(2):
                try:
                    tokens = self.tokens()
                except p11x.PKCS11Error as exc:
                    if attempt or not is_recoverable(exc):
                        raise BackendUnavailableError(
                            f"pkcs11: listing tokens of {self.path} failed: {exc!r}"
                        ) from None
                    self.reinitialize()
                    continue
                found = [t for t in tokens if _token_matches(t, uri)]
                if len(found) == 1:
                    return found[0]
                if len(found) > 1:
                    raise AmbiguousKeyError(
                        f"pkcs11: {len(found)} tokens match {uri.token_selector()}",
                        hint="add serial= (or a unique token=) to the URI",
                    )
                if attempt or not self._may_reinitialize_for_missing_token():
                    break
                log.info("pkcs11: no token matches %s; re-initialising %s once", uri.token_selector(), self.path)
                self.reinitialize()  # a token initialised after the module was loaded is only seen now
            present = ", ".join(repr(t.label) for t in tokens) or "none"
            if not self.owner:
                raise TokenNotFoundError(
                    f"pkcs11: no token matches {uri.token_selector()} in {self.path} (tokens present: {present})",
                    hint="fix token= in the URI; this module was initialised by other code of the process, which "
                    "signers never re-initialises (it would end that code's sessions): a token created since is "
                    "seen after a restart",
                )
            raise TokenNotFoundError(
                f"pkcs11: no token matches {uri.token_selector()} in {self.path} (tokens present: {present})",
                hint="fix token= in the URI, or create the token (SoftHSM2: softhsm2-util --init-token; "
                f"this repository: softhsm/install); a token created after this process loaded the module is "
                f"seen by a load at least {self.reinit_interval:g} s after the last re-initialisation, or after "
                "a restart",
            )

    def token_session(self, token: Token) -> TokenSession:
        key = (token.label, token.serial)
        with self.lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = TokenSession(self, token)
            else:
                session.token = token  # a fresh Token object after re-initialisation
            return session


class _SharedLib(_pkcs11.lib):
    """python-pkcs11's lib for a module another binding of the process has initialised already: its
    C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED, which means the module is ready to use. The object
    then never calls C_Finalize (its ``initialized`` flag stays false): the other binding owns the module."""

    def initialize(self) -> None:
        try:
            super().initialize()
        except p11x.PKCS11Error as exc:
            if not _already_initialised(exc):
                raise


def _already_initialised(exc: BaseException) -> bool:
    # python-pkcs11 maps CKR_CRYPTOKI_ALREADY_INITIALIZED to a bare PKCS11Error with this text
    return type(exc) is p11x.PKCS11Error and "already initialized" in str(exc)


def _open_library(path: str) -> tuple[Any, bool]:
    """The module's python-pkcs11 lib and whether signers initialised it (see ``Module.owner``).

    One process has one instance of a module (the dynamic loader keys it by file, whatever the path or
    symlink) and may call C_Initialize on it once. So: the lib object the application opened with python-pkcs11
    under any path to the same file is reused; a module another binding initialised is used as it is."""
    for opened, lib in list(getattr(pkcs11, "_loaded", {}).items()):  # python-pkcs11's own cache, by path
        if os.path.realpath(opened) == path:
            if not lib.initialized:
                lib.initialize()
            return lib, False
    try:
        return pkcs11.lib(path), True
    except p11x.PKCS11Error as exc:
        if not _already_initialised(exc):
            raise
    log.info("pkcs11: %s was initialised by other code of the process; sharing it", path)
    return _SharedLib(path), False


def _token_matches(token: Token, uri: Pkcs11URI) -> bool:
    if uri.token is not None and token.label != uri.token:
        return False
    if uri.serial is not None and token.serial.decode(errors="replace").strip() != uri.serial:
        return False
    if uri.manufacturer is not None and token.manufacturer_id != uri.manufacturer:
        return False
    if uri.model is not None and token.model != uri.model:
        return False
    return uri.slot_id is None or token.slot.slot_id == uri.slot_id


_modules: dict[str, Module] = {}
_modules_lock = threading.Lock()


def get_module(path: str) -> Module:
    """The process-wide ``Module`` for a path (one lib, one lock, whatever the number of signers)."""
    real = os.path.realpath(path)
    with _modules_lock:
        module = _modules.get(real)
        if module is None:
            module = _modules[real] = Module(real)
        return module
