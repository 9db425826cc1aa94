"""REST routes for operations: liveness, each backend's health, public keys, and reload.

``/upcheck`` and ``/healthcheck`` answer without a credential (load balancers call them) and name keys
only; ``/api/v1/eth1/publicKeys`` lists the calling client's keys; ``/reload`` needs a client with the
``reload`` right."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .tls import SCOPE_KEY as PEER_CERT

if TYPE_CHECKING:
    from .app import Service

HEALTH_TIMEOUT = 5.0


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def _unauthorized() -> Response:
    return JSONResponse({"error": "unauthorized: missing or wrong bearer token"}, status_code=401)


async def upcheck(request: Request) -> Response:
    return PlainTextResponse("OK")


async def healthcheck(request: Request) -> Response:
    service = _service(request)
    generation = service.generation

    async def check(name: str) -> dict[str, Any]:
        key = generation.keyring.by_name[name]
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await service.runner.run_sync(key.check)
            return {"id": name, "status": "UP"}
        except Exception as exc:  # the kind only: a backend's message may name infrastructure
            return {"id": name, "status": "DOWN", "reason": type(exc).__name__}

    with generation.use():
        checks = await asyncio.gather(*(check(name) for name in generation.keyring.by_name))
    up = all(c["status"] == "UP" for c in checks)
    return JSONResponse({"status": "UP" if up else "DOWN", "checks": checks}, status_code=200 if up else 503)


async def public_keys(request: Request) -> Response:
    service = _service(request)
    generation = service.generation
    client = service.authenticate(request.headers.get("authorization"), request.scope.get(PEER_CERT), generation)
    if client is None:
        return _unauthorized()
    keys = [k for k in generation.keyring.by_name.values() if client.may_use_key(k.name)]
    if request.query_params.get("names") == "true":  # the Python client finds a key by its configured name
        return JSONResponse([{"name": k.name, "publicKey": "0x" + k.signer.public_key.point.hex()} for k in keys])
    return JSONResponse(["0x" + k.signer.public_key.point.hex() for k in keys])


async def reload(request: Request) -> Response:
    service = _service(request)
    client = service.authenticate(
        request.headers.get("authorization"), request.scope.get(PEER_CERT), service.generation
    )
    if client is None:
        return _unauthorized()
    if "reload" not in client.methods:
        return JSONResponse({"error": "this client may not reload the service"}, status_code=403)
    if request.method == "GET":
        running = service.reload_task is not None and not service.reload_task.done()
        return JSONResponse({"running": running, "generation": service.generation.number, "last": service.last_reload})
    if not service.start_reload():
        return JSONResponse({"error": "a reload is already running"}, status_code=409)
    return JSONResponse({"status": "reloading"}, status_code=202)


def routes() -> list[Route]:
    return [
        Route("/upcheck", upcheck, methods=["GET"]),
        Route("/healthcheck", healthcheck, methods=["GET"]),
        Route("/api/v1/eth1/publicKeys", public_keys, methods=["GET"]),
        Route("/reload", reload, methods=["GET", "POST"]),
    ]
