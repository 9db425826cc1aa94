"""One socket write per JSON-RPC answer (plain HTTP): the status line, headers and body leave together.

uvicorn writes a response's head when the app sends ``http.response.start`` and its body on
``http.response.body``: two ``send()`` calls, two TCP segments (uvloop sets TCP_NODELAY), and a client woken
for a head without a body. Measured with py-spy on 32 concurrent clients, that first write was the largest
single cost the event loop paid while holding the GIL (waking the client happens inside the syscall).

This HTTP protocol gives each request's cycle a transport that can hold one write: the JSON-RPC endpoint
calls ``scope[HOLD]()`` just before sending the head, so the head waits for the body and both go in one
``send()``. Nothing else is held (the REST routes, uvicorn's own answers, ``100 Continue``), and a
protocol without it (TLS, on h11) simply has no ``HOLD`` in the scope.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HOLD = "signers.hold_head"


class _HoldingTransport:
    """The connection's transport, except that after ``hold()`` the next write waits for the one after it."""

    __slots__ = ("_transport", "_held", "_holding")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held = b""
        self._holding = False

    def hold(self) -> None:
        self._holding = True

    def write(self, data: bytes) -> None:
        if not self._holding:
            self._transport.write(data)
        elif not self._held:
            self._held = data
        else:
            held, self._held, self._holding = self._held, b"", False
            self._transport.write(held + data)

    def close(self) -> None:
        if self._held:  # a head still waiting (a body that never came): it goes out before the close
            held, self._held, self._holding = self._held, b"", False
            self._transport.write(held)
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, ...: the real transport's
        return getattr(self._transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle  # just made; its task has not run yet
        if cycle is not None:
            transport = _HoldingTransport(self.transport)
            cycle.transport = transport  # type: ignore[assignment]
            cycle.scope[HOLD] = transport.hold  # type: ignore[literal-required]
