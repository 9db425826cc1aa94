"""A load generator for the signing service: N keep-alive HTTP/1.1 clients on one event loop (uvloop).

It runs on the same two cores as the service, so what it costs per request is taken from the service: 32
``http.client`` threads spend ~150 us of CPU per request (and fight over their own GIL), this ~40-70 us. It is
still a real client: each connection writes a whole request, reads the status line, the headers and exactly
Content-Length bytes of body, and refuses any answer that is not 200 with a JSON-RPC result; the last result of
every connection is handed back, for the caller to verify (recover) after the measuring window.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import uvloop


@dataclass
class LoadResult:
    rate: float  # answers per second over the window
    results: list[str]  # the last JSON-RPC result of each connection


def _request(port: int, token: str, payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bytes:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        status = head.split(b"\r\n", 1)[0]
        raise RuntimeError(f"the service answered {status!r}")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError("the service answered without Content-Length")
    body = await reader.readexactly(length)
    return body


async def _run(port: int, request: bytes, clients: int, seconds: float) -> LoadResult:
    stop = asyncio.Event()
    start = asyncio.Event()
    counts = [0] * clients
    last: list[bytes] = [b""] * clients

    async def client(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await _exchange(reader, writer, request)  # connected and answered before the clock starts
            await start.wait()
            while not stop.is_set():
                body = await _exchange(reader, writer, request)
                if b'"result"' not in body:
                    raise RuntimeError(f"the service answered {body[:300]!r}")
                counts[index] += 1
                last[index] = body
        finally:
            writer.close()

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    await asyncio.sleep(0.2)
    for task in tasks:
        if task.done():
            task.result()  # a connection that failed before the window: raise its error
    start.set()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    rate = sum(counts) / (time.perf_counter() - started)
    return LoadResult(rate, [str(json.loads(body)["result"]) for body in last if body])


def concurrent_rate(port: int, token: str, payload: dict[str, object], clients: int, seconds: float) -> LoadResult:
    """``clients`` connections each posting ``payload`` back to back for ``seconds``."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_run(port, _request(port, token, payload), clients, seconds))
