"""The JSON-RPC 2.0 envelope: one object or a batch (an array, as ethers sends), each call checked, run with
its timeout, answered with its own id. Never a traceback: an unexpected error is logged by type and
answered -32603."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from typing import TYPE_CHECKING, Any

from .config import ClientConfig
from .errors import INTERNAL_ERROR, INVALID_REQUEST, LIMIT_EXCEEDED, PARSE_ERROR, USER_REJECTED, RpcError
from .methods import Call, find

if TYPE_CHECKING:
    from .app import Generation, Service

log = logging.getLogger("signers_server")
_NO_ID = object()  # a notification: no answer


def error_answer(error: RpcError, id_: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": error.as_json()}


def parse_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RpcError(PARSE_ERROR, "parse error: the body is not valid JSON") from None


def _request_id(request: Any) -> Any:
    if not isinstance(request, dict) or "id" not in request:
        return _NO_ID if isinstance(request, dict) and isinstance(request.get("method"), str) else None
    value = request["id"]
    return value if value is None or isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


def _outcome(error: RpcError | None) -> str:
    if error is None:
        return "ok"
    if error.code == USER_REJECTED:
        return "denied"
    if error.code == LIMIT_EXCEEDED:
        return "rate_limited"
    return "error"


async def run_call(service: Service, generation: Generation, client: ClientConfig, request: Any) -> Any:
    """One request object -> its answer (None for a notification)."""
    id_ = _request_id(request)
    method: Any = request.get("method") if isinstance(request, dict) else None
    call = Call(service, generation, client)
    started = time.perf_counter()
    error: RpcError | None = None
    result: Any = None
    try:
        if (
            not isinstance(request, dict)
            or request.get("jsonrpc") != "2.0"
            or not isinstance(method, str)
            or ("params" in request and not isinstance(request["params"], (list, dict, type(None))))
        ):
            raise RpcError(INVALID_REQUEST, 'invalid request: expected {jsonrpc: "2.0", method, params?, id?}')
        right, function = find(method)
        if right not in client.methods:
            raise RpcError(USER_REJECTED, f"User denied: this client may not call {method}", policy="client.methods")
        try:
            async with asyncio.timeout(generation.config.limits.request_timeout):
                if function is None:
                    result = await service.node_call(method, request.get("params"))
                else:
                    result = await function(call, request.get("params"))
        except TimeoutError:
            raise RpcError(
                INTERNAL_ERROR, f"the request timed out after {generation.config.limits.request_timeout} s"
            ) from None
    except RpcError as exc:
        error = exc
    except Exception as exc:  # a bug: its message might quote the input, so the log gets its type and frames only
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unexpected %s in %s\n%s", type(exc).__name__, service.metrics.method_label(method), frames)
        error = RpcError(INTERNAL_ERROR, f"internal error ({type(exc).__name__})")
    if error is not None and error.policy is not None:
        service.metrics.refusals.labels(error.policy).inc()
    outcome = _outcome(error)
    label = service.metrics.method_label(method)
    service.metrics.requests.labels(label, client.name, outcome).inc()
    service.access_log.write(
        client=client.name,
        method=label,
        key=call.key,
        outcome=outcome,
        code=error.code if error else None,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    if id_ is _NO_ID:
        return None
    if error is not None:
        return error_answer(error, id_)
    return {"jsonrpc": "2.0", "id": id_, "result": result}


async def run_batch(service: Service, generation: Generation, client: ClientConfig, requests: list[Any]) -> list[Any]:
    answers = await asyncio.gather(*(run_call(service, generation, client, r) for r in requests))
    return [answer for answer in answers if answer is not None]


def rate_limited_answer(payload: Any) -> Any:
    error = RpcError(LIMIT_EXCEEDED, "rate limit exceeded: slow down and retry")
    if isinstance(payload, list):
        return [error_answer(error, _request_id(r) if _request_id(r) is not _NO_ID else None) for r in payload]
    id_ = _request_id(payload)
    return error_answer(error, None if id_ is _NO_ID else id_)
