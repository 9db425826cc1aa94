"""One socket write per JSON-RPC answer (signers_server.onewrite): a held head leaves with the body, on a real
socket; nothing else is held; a head still held when the connection closes goes out before the close."""

from __future__ import annotations

import asyncio
import socket

from signers_server.onewrite import _HoldingTransport

_streams: list[object] = []  # the writers stay referenced: a collected StreamWriter closes its transport


async def _pair() -> tuple[_HoldingTransport, socket.socket]:
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    _, writer = await asyncio.open_connection(sock=ours)
    _streams.append(writer)
    return _HoldingTransport(writer.transport), theirs  # type: ignore[arg-type]


def _pending(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""


async def test_a_held_head_leaves_with_the_body() -> None:
    transport, peer = await _pair()
    transport.hold()
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    await asyncio.sleep(0)
    assert _pending(peer) == b""  # the head waits
    transport.write(b"{}")
    await asyncio.sleep(0)
    assert _pending(peer) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # not held: only the next write after hold() waits
    await asyncio.sleep(0)
    assert _pending(peer) == b"HTTP/1.1 100 Continue\r\n\r\n"
    transport.close()
    peer.close()


async def test_a_held_head_is_written_before_the_close() -> None:
    transport, peer = await _pair()
    transport.hold()
    transport.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    assert transport.is_closing() is False  # everything else is the real transport's
    transport.close()
    await asyncio.sleep(0.01)
    peer.setblocking(True)
    peer.settimeout(2)
    assert peer.recv(65536) == b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    assert peer.recv(65536) == b""  # then the connection is closed
    peer.close()
