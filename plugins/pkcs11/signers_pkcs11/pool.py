"""Throughput on several cores: worker processes, each with its own module, session and lock.

Threads in one process are serialised on the module lock (see ``signers_pkcs11.module``); a PKCS#11 module
initialised without locking flags cannot be called from two threads at once. Processes can: each worker
loads the module, logs in with the PIN read from the URI's pin-source (inherited environment or file) and
signs through the full framework path (policy and audit hooks, low-s, recovery id, self-check), so the
parent only receives signatures that already verified.

    with SigningPool("pkcs11:token=t;object=k?pin-source=env:PIN", processes=2) as pool:
        signatures = pool.sign_digests(digests)   # list[Signature], in order

Workers are started with the "spawn" method: a process that has called C_Initialize must not be forked
(PKCS#11 requires a child to initialise again, and SoftHSM's state is not fork-safe).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import signers.errors as errors
from signers.errors import SignerError
from signers.signature import Signature, check_digest

_signer: Any = None  # the worker's Signer (one per worker process)
_uri: str = ""


def _load(uri: str) -> Any:
    global _signer, _uri
    if _signer is None or _uri != uri:
        from signers import load_signer

        _signer, _uri = load_signer(uri), uri
    return _signer


def _address(uri: str) -> tuple[str, Any]:
    try:
        return "ok", _load(uri).address
    except SignerError as exc:
        return "error", (type(exc).__name__, str(exc))


def _sign_batch(uri: str, digests: list[bytes]) -> tuple[str, Any]:
    # errors travel as (class name, message): SignerError subclasses with keyword arguments do not unpickle
    try:
        signer = _load(uri)
        out = []
        for digest in digests:
            signature = signer.sign_digest(digest)
            out.append((signature.r, signature.s, signature.v))
        return "ok", out
    except SignerError as exc:
        return "error", (type(exc).__name__, str(exc))


def _raise(error: tuple[str, str]) -> None:
    name, message = error
    cls = getattr(errors, name, SignerError)
    try:
        exc = cls(message, hint="")
    except TypeError:
        exc = SignerError(message, hint="")
    raise exc


class SigningPool:
    """A pool of worker processes signing with one pkcs11: key; ``processes`` defaults to the CPU count."""

    def __init__(self, uri: str, processes: int | None = None) -> None:
        self.uri = uri
        self.processes = processes or os.cpu_count() or 1
        self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
        try:
            # every worker loads the key up front (and proves it is the same key): errors surface here
            answers = [self._executor.submit(_address, uri) for _ in range(self.processes)]
            results = [a.result() for a in answers]
        except BaseException:
            self.close()
            raise
        for status, value in results:
            if status == "error":
                self.close()
                _raise(value)
        addresses = {value for _, value in results}
        if len(addresses) != 1:
            self.close()
            raise errors.KeyChangedError(
                f"pkcs11 pool: workers loaded different keys for {uri}", expected=results[0][1], actual=str(addresses)
            )
        self.address: str = results[0][1]

    def sign_digests(self, digests: Sequence[bytes], batch: int | None = None) -> list[Signature]:
        """Signatures over each digest, in order; work is cut into batches spread over the workers."""
        items = [check_digest(d) for d in digests]
        size = batch or max(1, min(256, -(-len(items) // (self.processes * 4))))
        futures = [
            self._executor.submit(_sign_batch, self.uri, items[i : i + size]) for i in range(0, len(items), size)
        ]
        out: list[Signature] = []
        for future in futures:
            status, value = future.result()
            if status == "error":
                _raise(value)
            out.extend(Signature(r, s, v) for r, s, v in value)
        return out

    def sign_digest(self, digest: bytes) -> Signature:
        return self.sign_digests([digest], batch=1)[0]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> SigningPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SigningPool(processes={self.processes}, uri={self.uri!r})"
