"""The loaded keys: one ``Signer`` per configured name, and how a signature is run.

Backends with a native async path (Cloud KMS) are awaited with ``Signer.asign_*``; the others run the
synchronous ``Signer.sign_*`` in one bounded thread pool, so a slow HSM never blocks the event loop and never
gets more threads than configured. The caller's context (the client's name) follows the call into the pool.
Nothing signs on the loop, not even an in-memory key: the policies and the audit trail's insert run with every
signature, and a slow trail (a locked SQLite file, a distant PostgreSQL) or node (a scope check's on-chain
limit read) must hold only that request.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import signers
from signers import Backend, Signer
from signers.errors import ConfigurationError

from .config import KeyConfig


def has_native_async(backend: Backend) -> bool:
    cls = type(backend)
    return cls.asign is not Backend.asign or cls.asign_request is not Backend.asign_request


@dataclass(frozen=True)
class Key:
    name: str
    signer: Signer
    native_async: bool
    close: Callable[[], None]  # the signer's, or its process pool's
    check: Callable[[], object]  # reaches the device (a health check): the backend's public key read, or a worker's

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
    def load(cls, configs: Mapping[str, KeyConfig]) -> Keyring:
        """Open every key; on any failure close those already opened and raise (naming the key)."""
        loaded: dict[str, Key] = {}
        try:
            for name, config in configs.items():
                try:
                    key = _open(config)
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


def _open(config: KeyConfig) -> Key:
    if config.processes is None:
        signer = signers.load_signer(config.uri)
        return Key(config.name, signer, has_native_async(signer.backend), signer.close, signer.backend.public_key)
    try:
        from signers_pkcs11.pool import SigningPool
    except ImportError:
        raise ConfigurationError("processes= needs the signers-pkcs11 plugin installed") from None
    # PKCS#11 on several cores: the pool's Signer runs policies, self-check and audit here, workers only sign
    pool = SigningPool(config.uri, processes=config.processes)
    return Key(config.name, pool.signer, False, pool.close, pool.check)  # the pool's Signer holds a cached key


class Runner:
    """Runs ``Signer`` methods: natively async ones on the loop, others in the bounded pool.

    A pooled call hands the thread a closure that settles an asyncio future with one ``call_soon_threadsafe``
    (``run_in_executor`` chains a second, concurrent future to it: more Python on the loop per signature). A
    call whose request was given up (timed out, cancelled) before a thread took it up is dropped unsigned."""

    def __init__(self, threads: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="signers-serve")

    async def call(self, key: Key, method: str, *args: Any, **kwargs: Any) -> Any:
        if key.native_async:  # Signer._asign runs the policies and the audit hooks in a worker thread
            return await getattr(key.signer, "a" + method)(*args, **kwargs)
        return await self.run_sync(functools.partial(getattr(key.signer, method), *args, **kwargs))

    async def run_sync(self, function: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        context = contextvars.copy_context()  # acting_for(client) must reach the audit hook in the thread

        def job() -> None:
            if future.cancelled():
                return
            try:
                result = context.run(function, *args)
            except BaseException as error:  # noqa: BLE001 - handed to the awaiting request, which raises it
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

        self.pool.submit(job)
        return await future

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the request timed out meanwhile: nobody awaits this answer
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
