"""The service's signing threads (signers_server.lanes.Lane): results, errors and the caller's context come back
to the awaiting request; a call given up before a thread took it never runs; close runs what is queued."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from signers_server.lanes import Lane

from signers.errors import BackendUnavailableError

CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("client", default="nobody")


async def test_results_errors_and_the_callers_context_come_back() -> None:
    lane = Lane(2, "test")
    try:
        assert await lane.run(pow, 2, 10) == 1024
        with pytest.raises(ZeroDivisionError):
            await lane.run(divmod, 1, 0)
        CLIENT.set("backend-a")
        assert await lane.run(CLIENT.get) == "backend-a"
        assert await lane.run(threading.current_thread) is not threading.current_thread()
    finally:
        lane.close()


async def test_a_call_given_up_before_a_thread_took_it_never_runs() -> None:
    lane = Lane(1, "test")
    release = threading.Event()
    ran: list[str] = []
    try:
        busy = asyncio.ensure_future(lane.run(release.wait, 10))  # the lane's one thread is held here
        await asyncio.sleep(0)  # the task runs up to its await: the job is queued first
        waiting = asyncio.ensure_future(lane.run(ran.append, "signed"))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(waiting, 0.05)  # the request times out while the job is queued
        release.set()
        assert await busy is True
        assert await lane.run(ran.append, "after") is None
    finally:
        lane.close()
    assert ran == ["after"]


async def test_close_runs_the_queued_calls_then_refuses_new_ones() -> None:
    lane = Lane(1, "test")
    release = threading.Event()
    done: list[int] = []
    first = asyncio.ensure_future(lane.run(release.wait, 10))
    queued = [asyncio.ensure_future(lane.run(done.append, i)) for i in range(3)]
    await asyncio.sleep(0)  # the four jobs are queued
    closer = asyncio.ensure_future(asyncio.to_thread(lane.close))  # queues the stops after them, waits for them
    release.set()
    await closer
    await asyncio.gather(first, *queued)
    assert done == [0, 1, 2]
    with pytest.raises(BackendUnavailableError, match="shutting down") as refused:
        await lane.run(done.append, 99)
    assert "nothing was signed" in refused.value.hint and done == [0, 1, 2]
