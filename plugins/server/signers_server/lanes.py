"""Threads that run blocking calls for the event loop: a ``Lane`` is a few threads fed by one queue.

Each call costs the loop one queue put and, when it finishes, one ``call_soon_threadsafe`` that settles the
awaiting future. (``run_in_executor`` on a ``ThreadPoolExecutor`` adds a concurrent future with its
condition variable, a work item and a second future chained to the first: Python that the loop and the
thread run per signature, and the service's throughput is bounded by the Python it runs per request.)

A call whose request was given up (timed out, cancelled) before a thread took it is dropped unrun: nothing
is signed for an answer nobody waits for. One that already started runs to its end (a device call cannot
be interrupted) and its result is discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

from signers.errors import BackendUnavailableError


class Lane:
    def __init__(self, threads: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        # daemon: a process that exits without closing its lanes (a start-up failure) must not hang on them;
        # the service closes them on shutdown, after the queued calls ran
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in one of the lane's threads, with the caller's context (its client name)."""
        if self._closed:
            raise BackendUnavailableError(
                "the service is shutting down or replacing this key (reload)", hint="retry the call; nothing was signed"
            )
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        context = contextvars.copy_context()

        def job() -> None:
            if future.cancelled():
                return
            result, error = None, None
            try:
                result = context.run(function, *args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request, which raises it
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop has closed (the service stopped): nobody awaits
                loop.call_soon_threadsafe(_settle, future, result, error)

        self._jobs.put(job)
        return await future

    def close(self) -> None:
        """Run what is queued, then stop the threads (and wait for them)."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the request timed out meanwhile: nobody awaits this answer
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
