"""Throughput on several cores: worker processes, each with its own module, session and lock.

Threads in one process are serialised on the module lock (see ``signers_pkcs11.module``); a PKCS#11 module
initialised without locking flags cannot be called from two threads at once. Processes can: each worker
loads the module, logs in with the PIN read from the URI's pin-source (inherited environment or file) and
signs through the full framework path (policy and audit hooks, low-s, recovery id, self-check).

A worker's self-check only proves the signature matches the key *that worker* loaded. A worker that loaded
later than the others (a replacement worker, or one that missed a start-up task) after ``object=LABEL`` was
re-pointed at another key would sign with that other key and pass its own check. So every batch comes back
with the public key its signatures were self-checked against, and the parent compares it with the pool's
key (what the workers agreed on at start), raising KeyChangedError naming both addresses rather than
return a signature of another key. Comparing the key, not re-verifying each signature, keeps the parent
from becoming the bottleneck: a recovery per signature in one process would cap the pool's throughput.

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
from signers.keys import PublicKey
from signers.signature import Signature, check_digest

_signer: Any = None  # the worker's Signer (one per worker process)
_uri: str = ""


def _load(uri: str) -> Any:
    global _signer, _uri
    if _signer is None or _uri != uri:
        from signers import load_signer

        _signer, _uri = load_signer(uri), uri
    return _signer


def _public_key(uri: str) -> tuple[str, Any]:
    try:
        return "ok", _load(uri).public_key.point
    except SignerError as exc:
        return "error", _error_fields(exc)


def _sign_batch(uri: str, digests: list[bytes]) -> tuple[str, Any]:
    # errors travel as (class name, message): SignerError subclasses with keyword arguments do not unpickle
    try:
        signer = _load(uri)
        out = []
        for digest in digests:
            signature = signer.sign_digest(digest)  # self-checked against signer.public_key
            out.append((signature.r, signature.s, signature.v))
        return "ok", (signer.public_key.point, out)
    except SignerError as exc:
        return "error", _error_fields(exc)


def _error_fields(exc: SignerError) -> tuple[str, str, str, dict[str, Any]]:
    """A worker's error as plain data: SignerError subclasses with keyword arguments do not unpickle."""
    extra = {name: getattr(exc, name) for name in ("expected", "actual") if hasattr(exc, name)}
    return type(exc).__name__, exc.message, exc.hint, extra


def _raise(error: tuple[str, str, str, dict[str, Any]]) -> None:
    """Raise a worker's error again in the parent, as the same class with the same message, hint and fields."""
    name, message, hint, extra = error
    cls = getattr(errors, name, SignerError)
    if not (isinstance(cls, type) and issubclass(cls, SignerError)):
        cls = SignerError
    try:
        exc = cls(message, hint=hint, **extra)
    except TypeError:
        exc = SignerError(message, hint=hint)
    raise exc


class SigningPool:
    """A pool of worker processes signing with one pkcs11: key; ``processes`` defaults to the CPU count.

    ``max_tasks_per_child``: replace a worker after that many batches (bounds what a long-lived worker can
    accumulate); a replacement loads the key anew, and its signatures are checked like every other's."""

    def __init__(self, uri: str, processes: int | None = None, max_tasks_per_child: int | None = None) -> None:
        self.uri = uri
        self.processes = processes or os.cpu_count() or 1
        self._executor = ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=max_tasks_per_child
        )
        try:
            # the workers load the key up front (and show it is the same key): errors surface here
            answers = [self._executor.submit(_public_key, uri) for _ in range(self.processes)]
            results = [a.result() for a in answers]
        except BaseException:
            self.close()
            raise
        for status, value in results:
            if status == "error":
                self.close()
                _raise(value)
        keys = {PublicKey(value) for _, value in results}
        if len(keys) != 1:
            self.close()
            raise errors.KeyChangedError(
                f"pkcs11 pool: workers loaded different keys for {uri}",
                expected=PublicKey(results[0][1]).address,
                actual=", ".join(sorted(k.address for k in keys)),
                hint="the key behind the URI changed while the pool started: select the key by id= and retry",
            )
        #: the key every signature of the pool must recover to
        self.public_key: PublicKey = keys.pop()
        self.address: str = self.public_key.address

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
            point, signatures = value
            if point != self.public_key.point:
                actual = PublicKey(point).address
                raise errors.KeyChangedError(
                    f"pkcs11 pool: a worker signed with {actual}, not with the pool's key {self.address} "
                    f"({self.uri}); its signatures were discarded",
                    expected=self.address,
                    actual=actual,
                    hint="the key behind the URI changed on the token (e.g. object= label re-pointed at a new key): "
                    "select the intended key by id= and start a new pool",
                )
            out.extend(Signature(r, s, v) for r, s, v in signatures)  # futures are read in submission order
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
