"""The JSON-RPC endpoint (``POST /``) as a bare ASGI app: the request every signature pays for.

Starlette's routing, request and response objects and its middleware stack cost about as much CPU per request
as uvicorn itself (bench/bench_server.py: the eth_chainId floor), and a signing service is bounded by the
Python it runs per request on one event loop. So the endpoint reads the scope's headers and the body itself
and answers with two ``send`` calls; ``app.Front`` hands it ``POST /`` directly (after the Host allowlist),
and the Starlette app mounts the same endpoint when CORS is configured, so that one implementation serves
both. The REST routes and everything else stay on Starlette.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .errors import INTERNAL_ERROR, INVALID_REQUEST, LIMIT_EXCEEDED, UNAUTHORIZED, RpcError
from .limits import BodyTimeout, BodyTooLarge, read_body
from .onewrite import HOLD
from .rpc import error_answer, parse_body, rate_limited_answer, run_batch, run_call
from .tls import SCOPE_KEY as PEER_CERT

if TYPE_CHECKING:
    from .app import Service

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("signers_server")
_JSON = (b"content-type", b"application/json")


async def answer(scope: Scope, send: Send, payload: Any, status: int = 200) -> None:
    """A JSON answer (or 204 without a body for ``None``: a notification or a batch of them), in one socket
    write where the HTTP protocol offers it (``onewrite``)."""
    hold = scope.get(HOLD)
    if hold is not None:
        hold()
    if payload is None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    headers = [_JSON, (b"content-length", str(len(body)).encode("latin-1"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class RpcEndpoint:
    """``POST /``: authenticate, read and parse the body within the limits, rate-limit the client, run the call
    or the batch. Answers refused before any call ran are counted and logged like calls."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = self.service
        service.metrics.in_flight.inc()
        try:
            status, payload = await self._serve(scope, receive)
        except Exception as exc:  # a bug: its message might quote the input, so the log gets its type and frames
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unexpected %s in the JSON-RPC endpoint\n%s", type(exc).__name__, frames)
            status, payload = 500, error_answer(RpcError(INTERNAL_ERROR, f"internal error ({type(exc).__name__})"))
        finally:
            service.metrics.in_flight.dec()
        await answer(scope, send, payload, status)

    async def _serve(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        service = self.service
        generation = service.generation
        limits = generation.config.limits
        with generation.use():
            client = service.authenticate(_header(scope, b"authorization"), scope.get(PEER_CERT), generation)
            if client is None:
                error = RpcError(
                    UNAUTHORIZED, "unauthorized: missing or wrong bearer token (Authorization: Bearer ...)"
                )
                return self._refused("anonymous", "unauthorized", error, 401)
            try:
                declared = _header(scope, b"content-length")
                body = await read_body(receive, declared, limits.max_body_bytes, limits.body_timeout)
            except BodyTooLarge:
                error = RpcError(INVALID_REQUEST, f"the request body exceeds {limits.max_body_bytes} bytes")
                return self._refused(client.name, "too_large", error, 413)
            except BodyTimeout:
                error = RpcError(INVALID_REQUEST, f"the request body did not arrive within {limits.body_timeout} s")
                return self._refused(client.name, "timeout", error, 408)
            try:
                payload = parse_body(body)
            except RpcError as parse_error:
                return self._refused(client.name, "error", parse_error, 200)
            count = len(payload) if isinstance(payload, list) else 1
            if isinstance(payload, list) and not payload:
                return self._refused(client.name, "error", RpcError(INVALID_REQUEST, "invalid request: empty batch"))
            if count > limits.max_batch:
                error = RpcError(INVALID_REQUEST, f"the batch of {count} exceeds the limit of {limits.max_batch}")
                return self._refused(client.name, "too_large", error, 413)
            if not service.limiter.allow(client.name, client.rate_per_second, client.rate_burst, count):
                service.metrics.rate_limited.labels(client.name).inc()
                error = RpcError(LIMIT_EXCEEDED, "rate limit exceeded")
                return self._refused(client.name, "rate_limited", error, 429, rate_limited_answer(payload))
            if isinstance(payload, list):
                answers = await run_batch(service, generation, client, payload)
                return 200, answers or None
            return 200, await run_call(service, generation, client, payload)

    def _refused(
        self, client: str, outcome: str, error: RpcError, status: int = 200, payload: Any = None
    ) -> tuple[int, Any]:
        service = self.service
        service.metrics.requests.labels("other", client, outcome).inc()
        service.access_log.write(client=client, method=None, key=None, outcome=outcome, code=error.code)
        return status, payload if payload is not None else error_answer(error)
