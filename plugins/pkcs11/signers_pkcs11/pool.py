"""Throughput on several cores: worker processes, each with its own module, session and lock, that only sign.

Threads in one process are serialised on the module lock (see ``signers_pkcs11.module``); a PKCS#11 module
initialised without locking flags cannot be called from two threads at once. Processes can: each worker
loads the module, logs in with the PIN read from the URI's pin-source (inherited environment or file) and
returns the token's raw r||s signatures, nothing more.

Everything else happens in the calling process, through the one request path of ``signers.Signer``: the pool
is a ``Backend`` (``PoolBackend``) and ``SigningPool.signer`` a ``Signer`` over it. So the policies
(``before_sign``: the scope check with the process's registered sessions, any other policy) run before a
worker sees a digest, and the conversion, self-check and audit trail (``after_sign`` / ``sign_failed``) run
on every signature before it is returned, with the hooks *this* process registered. A worker has no hooks
and no registry: it is never asked to sign anything the parent has not let through.

A worker that loaded the key later than the others (a replacement worker, e.g. with ``max_tasks_per_child``)
after ``object=LABEL`` was re-pointed at another key would sign with that other key. Each batch comes back
with the public key its worker signs with; the parent compares it with the pool's key (what the workers
agreed on at start) and raises KeyChangedError naming both addresses (the core's self-check would refuse
such signatures anyway, less clearly).

    with SigningPool("pkcs11:token=t;object=k?pin-source=env:PIN", processes=2) as pool:
        signatures = pool.sign_digests(digests)   # list[Signature], in order
        pool.signer.sign_user_operation(op, entry_point, chain_id)   # every Signer surface, through the pool

Workers are started with the "spawn" method: a process that has called C_Initialize must not be forked
(PKCS#11 requires a child to initialise again, and SoftHSM's state is not fork-safe).

Each worker has a pipe of its own, and a call takes an idle worker, writes its task, reads the answer and
gives the worker back: the calling thread waits on the pipe without the GIL and takes it back once. (A
``ProcessPoolExecutor`` adds a feeder thread and a result thread per pool, whose GIL hand-offs the signing
service paid on every request; and a device call made in the service's own process holds the module lock
while its thread waits for the GIL three times, measured doubling the lock's hold time under load.)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import signers.errors as errors
from signers.backend import Backend
from signers.errors import BackendUnavailableError, SignerError
from signers.keys import PublicKey
from signers.signature import Signature
from signers.signer import Signer

from .backend import Pkcs11Backend

if TYPE_CHECKING:
    import pluggy

    from signers.signer import SignRequest

_worker: tuple[str, Pkcs11Backend, bytes] | None = None  # this worker's URI, backend and the key's point
_load_lock: Any = None  # shared by the pool's workers: one loads (logs in) at a time


def _init_worker(lock: Any) -> None:
    global _load_lock
    _load_lock = lock


def _load(uri: str) -> tuple[Pkcs11Backend, bytes]:
    """The worker's backend and the public key it was loaded with. Built by the plugin itself, not through
    ``load_signer``: a worker has no plugin manager, so no hooks and no audit trail of its own."""
    global _worker
    if _worker is None or _worker[0] != uri:
        from signers.uri import parse

        from .uri import parse_pkcs11_uri

        # A login may rewrite the token's files (SoftHSM does): workers logging in at the same moment have
        # made another worker's token listing fail (GeneralError). Loads take turns; signing does not.
        with _load_lock or contextlib.nullcontext():
            backend = Pkcs11Backend(parse_pkcs11_uri(parse(uri)))
            _worker = (uri, backend, backend.public_key().point)
    return _worker[1], _worker[2]


def _public_key(uri: str) -> tuple[str, Any]:
    try:
        backend, point = _load(uri)
        return "ok", (point, backend.describe())
    except SignerError as exc:
        return "error", _error_fields(exc)


def _read_key(uri: str) -> tuple[str, Any]:
    """The key read from the token anew (a health check: the worker's cached point says nothing)."""
    try:
        backend, _ = _load(uri)
        return "ok", backend.public_key().point
    except SignerError as exc:
        return "error", _error_fields(exc)


def _sign_batch(uri: str, digests: list[bytes]) -> tuple[str, Any]:
    """Raw r||s signatures and the key the worker signs with: the parent converts, checks and audits them."""
    try:
        backend, point = _load(uri)
        return "ok", (point, [backend.sign(digest) for digest in digests])
    except SignerError as exc:
        return "error", _error_fields(exc)
    except Exception as exc:  # anything else is still a SignerError in the parent (recorded as failed there)
        hint = "a bug or a device fault in the worker; nothing of this call was returned"
        return "error", ("BackendUnavailableError", f"pkcs11 pool worker: {type(exc).__name__}", hint, {})


_TASKS: dict[str, Callable[..., tuple[str, Any]]] = {
    "public_key": _public_key,
    "read_key": _read_key,
    "sign": _sign_batch,
}


def _serve(connection: Connection, uri: str, lock: Any) -> None:
    """A worker's life: answer the parent's tasks on its pipe until told to stop (None) or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    _init_worker(lock)
    with contextlib.suppress(EOFError, OSError):  # the parent went away: nothing is left to answer
        while (task := connection.recv()) is not None:
            name, args = task
            connection.send(_TASKS[name](uri, *args))


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


class PoolBackend(Backend):
    """The pool as a custody backend: ``sign`` and ``sign_requests`` hand digests to the worker processes and
    return their raw r||s; the ``Signer`` over it does everything else in this process."""

    signature_format = "rs"
    invalid_signature_retries = Pkcs11Backend.invalid_signature_retries

    def __init__(self, pool: SigningPool, public_key: PublicKey, description: str) -> None:
        self._pool = pool
        self._public_key = public_key
        self._description = description  # the workers' own: the audit trail names the key as a direct signer would
        self.concurrent_calls = pool.processes  # a call per worker

    def public_key(self) -> PublicKey:
        return self._public_key

    def describe(self) -> str:
        return self._description

    def sign(self, digest: bytes) -> bytes:
        return list(self._signatures([digest], 1))[0]

    def sign_requests(self, requests: Sequence[SignRequest]) -> Iterator[bytes]:
        return self._signatures([r.digest for r in requests], self._pool.batch)

    def _signatures(self, digests: list[bytes], batch: int | None) -> Iterator[bytes]:
        """Hand batches to idle workers (as many at once as there are), yield the signatures in order as their
        batches come back: the caller converts and audits the first batches while the workers sign the next."""
        pool = self._pool
        size = batch or max(1, min(256, -(-len(digests) // (pool.processes * 4))))
        chunks = [digests[i : i + size] for i in range(0, len(digests), size)]
        running: list[_Worker] = []  # in the order their batches were sent
        sent = 0
        try:
            while sent < len(chunks) or running:
                while sent < len(chunks):  # every idle worker gets a batch; one at least if none is running
                    worker = pool._take_idle() if running else pool._take()
                    if worker is None:
                        break
                    running.append(worker)
                    worker.send(("sign", (chunks[sent],)))
                    sent += 1
                worker = running.pop(0)
                status, value = worker.receive()
                pool._give_back(worker)
                if status == "error":
                    _raise(value)
                point, signatures = value
                self._check_key(point)
                yield from signatures
        finally:
            for worker in running:  # an abandoned call (a refusal, an error): its batches are read and dropped
                with contextlib.suppress(SignerError):
                    worker.receive()
                    pool._give_back(worker)

    def _check_key(self, point: bytes) -> None:
        if point != self._public_key.point:
            actual, expected = PublicKey(point).address, self._public_key.address
            raise errors.KeyChangedError(
                f"pkcs11 pool: a worker signed with {actual}, not with the pool's key {expected} "
                f"({self._description}); its signatures were discarded",
                expected=expected,
                actual=actual,
                hint="the key behind the URI changed on the token (e.g. object= label re-pointed at a new key): "
                "select the intended key by id= and start a new pool",
            )


class _Worker:
    """One worker process and the parent's end of its pipe. A worker that dies (or is stopped) under a call
    sets ``broken``, the pool's: the pool is broken, as a process pool would be."""

    def __init__(self, context: Any, uri: str, lock: Any, broken: threading.Event) -> None:
        self.broken = broken
        self.connection, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child, uri, lock), daemon=True)
        self.process.start()
        child.close()
        self.tasks = 0

    def send(self, task: tuple[str, tuple[Any, ...]]) -> None:
        try:
            self.connection.send(task)
        except OSError as exc:
            raise self._died(exc) from None

    def receive(self) -> tuple[str, Any]:
        try:
            answer: tuple[str, Any] = self.connection.recv()
        except (EOFError, OSError) as exc:
            raise self._died(exc) from None
        self.tasks += 1
        return answer

    def _died(self, exc: BaseException) -> BackendUnavailableError:
        self.broken.set()
        self.process.join(0.5)
        code = self.process.exitcode
        return BackendUnavailableError(
            f"pkcs11 pool worker {self.process.pid}: gone ({type(exc).__name__}; exit code {code})",
            hint="a worker process died (see its exit in the logs) or the pool was closed: start a new "
            "SigningPool; nothing of this call was returned",
        )

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.send(None)
        self.process.join(5)
        if self.process.is_alive():  # stuck in the device: it signs nothing more for anyone
            self.process.terminate()
            self.process.join(5)
        self.connection.close()


class SigningPool:
    """A pool of worker processes signing with one pkcs11: key; ``processes`` defaults to the CPU count.

    ``signer`` is a ``signers.Signer`` over the pool: policies, conversion, self-check and audit run in this
    process for every signature (see the module docstring). ``plugin_manager`` and ``chain_id`` are the
    Signer's (default: the process's plugin manager, as ``load_signer`` uses). Calls from several threads run
    at once, one worker each.
    ``max_tasks_per_child``: replace a worker after that many batches (bounds what a long-lived worker can
    accumulate); a replacement loads the key anew, and its signatures are checked like every other's.
    ``batch``: digests per task (default: each call is cut into about 4 tasks per process, at most 256 each)."""

    def __init__(
        self,
        uri: str,
        processes: int | None = None,
        max_tasks_per_child: int | None = None,
        *,
        batch: int | None = None,
        chain_id: int | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> None:
        self.uri = uri
        self.processes = processes or os.cpu_count() or 1
        self.batch = batch
        self.max_tasks_per_child = max_tasks_per_child
        self._context = multiprocessing.get_context("spawn")
        self._load_lock = self._context.Lock()  # one worker logs in at a time (see _load)
        self._workers: list[_Worker] = []
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._closed = False
        self._broken = threading.Event()  # set by a worker that died under a call
        self._replacing = threading.Lock()
        try:
            self._workers = [self._new_worker() for _ in range(self.processes)]
            # the workers load the key up front (and show it is the same key): errors surface here
            for worker in self._workers:
                worker.send(("public_key", ()))
            results = [worker.receive() for worker in self._workers]
        except BaseException:
            self.close()
            raise
        for status, value in results:
            if status == "error":
                self.close()
                _raise(value)
        for worker in self._workers:
            self._idle.put(worker)
        loaded = [value for _, value in results]  # (point, description) per worker
        keys = {PublicKey(point) for point, _ in loaded}
        if len(keys) != 1:
            self.close()
            raise errors.KeyChangedError(
                f"pkcs11 pool: workers loaded different keys for {uri}",
                expected=PublicKey(loaded[0][0]).address,
                actual=", ".join(sorted(k.address for k in keys)),
                hint="the key behind the URI changed while the pool started: select the key by id= and retry",
            )
        #: the key every signature of the pool must recover to
        self.public_key: PublicKey = keys.pop()
        self.address: str = self.public_key.address
        #: the Signer over the pool: the one request path (policies, conversion, self-check, audit) in this process
        self.signer = Signer(
            PoolBackend(self, self.public_key, loaded[0][1]), chain_id=chain_id, plugin_manager=plugin_manager
        )

    # -- workers ---------------------------------------------------------------------------------------------
    def _new_worker(self) -> _Worker:
        return _Worker(self._context, self.uri, self._load_lock, self._broken)

    def _usable(self) -> None:
        if self._closed or self._broken.is_set():
            state = "closed" if self._closed else "broken: a worker process died"
            raise BackendUnavailableError(
                f"pkcs11 pool ({self.processes} processes) is {state}",
                hint="start a new SigningPool; nothing of this call was signed",
            )

    def _take(self) -> _Worker:
        """An idle worker, waiting for one (a closed or broken pool raises, also while waiting)."""
        while True:
            self._usable()
            with contextlib.suppress(queue.Empty):
                return self._idle.get(timeout=0.5)

    def _take_idle(self) -> _Worker | None:
        self._usable()
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return None

    def _give_back(self, worker: _Worker) -> None:
        if self.max_tasks_per_child is not None and worker.tasks >= self.max_tasks_per_child and not self._closed:
            with self._replacing:  # the replacement loads the key anew; its signatures are checked like any
                worker.stop()
                fresh = self._new_worker()
                self._workers[self._workers.index(worker)] = fresh
                worker = fresh
        self._idle.put(worker)

    def _call(self, name: str) -> tuple[str, Any]:
        worker = self._take()
        worker.send((name, ()))
        answer = worker.receive()
        self._give_back(worker)
        return answer

    # -- the pool's surface --------------------------------------------------------------------------------
    def sign_digests(self, digests: Sequence[bytes]) -> list[Signature]:
        """Signatures over each digest, in order (``Signer.sign_digests``: every digest passes the policies
        before any is signed, and each signature is audited before the list is returned)."""
        return self.signer.sign_digests(digests)

    def sign_digest(self, digest: bytes) -> Signature:
        return self.signer.sign_digest(digest)

    def check(self) -> PublicKey:
        """Have a worker read the key from the device (a health check); raise its error if it cannot."""
        status, value = self._call("read_key")
        if status == "error":
            _raise(value)
        return PublicKey(value)

    def close(self) -> None:
        """Stop the workers (each finishes the task it has); calls after this raise BackendUnavailableError."""
        self._closed = True
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> SigningPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SigningPool(processes={self.processes}, uri={self.uri!r})"
