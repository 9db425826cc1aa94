"""The loaded keys: one ``Signer`` per configured name, and how a signature is run.

Backends with a native async path (Cloud KMS) are awaited with ``Signer.asign_*``; the others run the
synchronous ``Signer.sign_*`` in threads (``lanes.Lane``), so a slow HSM never blocks the event loop and never
gets more threads than configured. A key whose backend serves a bounded number of calls at once
(``Backend.concurrent_calls``: a PKCS#11 module's lock, a process pool's workers) has a lane of its own with
that many threads plus one (the next request's policies and conversion run while the device signs); the
other keys share one lane of ``limits.signing_threads``. More threads than a module lets in would only queue
on its lock, each taking the GIL back and forth. The caller's context (the client's name) follows the call.
Nothing signs on the loop, not even an in-memory key: the policies and the audit trail's insert run with every
signature, and a slow trail (a locked SQLite file, a distant PostgreSQL) or node (a scope check's on-chain
limit read) must hold only that request.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import signers
from signers import Backend, Signer
from signers.errors import ConfigurationError

from .config import KeyConfig
from .lanes import Lane


def has_native_async(backend: Backend) -> bool:
    cls = type(backend)
    return cls.asign is not Backend.asign or cls.asign_request is not Backend.asign_request


@dataclass(frozen=True)
class Key:
    name: str
    signer: Signer
    native_async: bool
    close: Callable[[], None]  # the signer's, or its process pool's; and the key's lane
    check: Callable[[], object]  # reaches the device (a health check): the backend's public key read, or a worker's
    lane: Lane | None = None  # its own threads (a backend with concurrent_calls), or None: the shared lane

    @property
    def address(self) -> str:
        return self.signer.address

    @property
    def backend(self) -> str:
        """The backend's kind for metric labels (the URI scheme: no key ids, no secrets)."""
        return self.signer.backend.describe().split(":", 1)[0]


class Keyring:
    """Name -> Key and address -> Key for one configuration; replaced whole on reload."""

    def __init__(self, keys: Mapping[str, Key]) -> None:
        self.by_name = dict(keys)
        self.by_address = {key.address.lower(): key for key in keys.values()}

    @classmethod
    def load(cls, configs: Mapping[str, KeyConfig], threads: int) -> Keyring:
        """Open every key (``threads``: the most any key's own lane gets); on any failure close those already
        opened and raise (naming the key)."""
        loaded: dict[str, Key] = {}
        try:
            for name, config in configs.items():
                try:
                    key = _open(config, threads)
                except signers.SignerError as error:
                    raise ConfigurationError(f"keys.{name}: {type(error).__name__}: {error}") from None
                loaded[name] = key
                twins = [other for other in loaded.values() if other is not key and other.address == key.address]
                if twins:  # an address must name one key: a client's rights are given by key name
                    raise ConfigurationError(f"keys.{name}: the same key ({key.address}) as keys.{twins[0].name}")
        except BaseException:
            for key in loaded.values():
                key.close()
            raise
        return cls(loaded)

    def close(self) -> None:
        for key in self.by_name.values():
            with contextlib.suppress(Exception):  # best effort: one key's failure must not keep others open
                key.close()


def _open(config: KeyConfig, threads: int) -> Key:
    if config.processes is None:
        signer = signers.load_signer(config.uri)
        close, check = signer.close, signer.backend.public_key
    else:
        try:
            from signers_pkcs11.pool import SigningPool
        except ImportError:
            raise ConfigurationError("processes= needs the signers-pkcs11 plugin installed") from None
        # PKCS#11 on several cores: the pool's Signer runs policies, self-check and audit here, workers only sign
        pool = SigningPool(config.uri, processes=config.processes)
        signer, close, check = pool.signer, pool.close, pool.check  # the pool's Signer holds a cached key
    native_async = has_native_async(signer.backend)
    bound = signer.backend.concurrent_calls
    if native_async or bound is None:
        return Key(config.name, signer, native_async, close, check)
    lane = Lane(min(bound + 1, threads), f"signers-serve-{config.name}")

    def close_both() -> None:
        lane.close()  # the calls already queued finish on the open key first
        close()

    return Key(config.name, signer, native_async, close_both, check, lane)


class Runner:
    """Runs ``Signer`` methods: natively async ones on the loop, the others in their key's lane or the shared one
    (which also runs the service's other blocking work: health checks, loading a configuration)."""

    def __init__(self, threads: int) -> None:
        self.shared = Lane(threads, "signers-serve")

    async def call(self, key: Key, method: str, *args: Any, **kwargs: Any) -> Any:
        if key.native_async:  # Signer._asign runs the policies and the audit hooks in a worker thread
            return await getattr(key.signer, "a" + method)(*args, **kwargs)
        call = functools.partial(getattr(key.signer, method), *args, **kwargs)
        return await (key.lane or self.shared).run(call)

    async def run_sync(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self.shared.run(function, *args)

    def shutdown(self) -> None:
        self.shared.close()
