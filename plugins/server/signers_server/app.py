"""The ASGI application: the service's state, the JSON-RPC endpoint and the REST routes.

A *generation* is one loaded configuration (clients and keys). ``POST /reload`` builds a new one beside the
current one and swaps them; requests already running keep the generation they started on, whose keys are
closed when the last of them finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from signers.aa import CANONICAL, NodeClient, addresses_for, register_addresses, unregister_addresses
from signers.aa.scope import SCOPES
from signers.audit import AuditTrail
from signers.errors import SignerError

from . import rest
from .accesslog import AccessLog
from .auth import bearer_token, client_for_certificate, client_for_token
from .config import ClientConfig, ConfigError, ServerConfig, address_books, granted_sessions, load_config
from .endpoint import RpcEndpoint
from .errors import METHOD_NOT_FOUND, RpcError
from .hosts import AllowedHosts, HostAllowlist
from .keyring import Keyring, Runner
from .limits import RateLimiter
from .metrics import Metrics
from .upstream import Upstream

log = logging.getLogger("signers_server")


class Generation:
    """One loaded configuration and its keys, counted while requests use it."""

    def __init__(self, number: int, config: ServerConfig, keyring: Keyring, sessions: frozenset[bytes]) -> None:
        self.number = number
        self.config = config
        self.keyring = keyring
        self.sessions = sessions  # the permission ids this configuration registered with the scope check
        self.active = 0
        self.retired = False

    @contextlib.contextmanager
    def use(self) -> Any:
        self.active += 1
        try:
            yield self
        finally:
            self.active -= 1
            if self.retired and self.active == 0:  # the last request on a replaced set: close it off the loop
                asyncio.get_running_loop().run_in_executor(None, self.keyring.close)


def load_generation(number: int, config: ServerConfig) -> Generation:
    """Open the keys, then register what the scope check must know (address books, granted sessions). A
    failure leaves the process as it was: the keys are closed and the sessions registered here taken back."""
    books, granted = address_books(config), granted_sessions(config)
    keyring = Keyring.load(config.keys, config.limits.signing_threads)
    previous = {chain_id: addresses_for(chain_id) for chain_id in books}  # CANONICAL where none was registered
    try:
        for chain_id, book in books.items():
            register_addresses(chain_id, book)
        sessions = _register_sessions(config, granted)
    except BaseException:
        for chain_id, book in previous.items():  # a failed load leaves the address books as they were
            if book is CANONICAL:
                unregister_addresses(chain_id)
            else:
                register_addresses(chain_id, book)
        keyring.close()
        raise
    return Generation(number, config, keyring, sessions)


def _register_sessions(config: ServerConfig, granted: list[tuple[Any, Any]]) -> frozenset[bytes]:
    node = NodeClient(config.upstream) if config.upstream else None  # on-chain limits are read there
    added: list[bytes] = []
    registered = set()
    try:
        for index, (session, item) in enumerate(granted):
            new = SCOPES.get(session.permission_id) is None
            try:
                pid = SCOPES.register(session, account=item["account"], max_cost_wei=item["max_cost_wei"], node=node)
            except SignerError as error:
                raise ConfigError(f"sessions[{index}]: {error.message}") from None
            if new:
                added.append(pid)
            registered.add(pid)
    except BaseException:
        for pid in added:
            SCOPES.unregister(pid)
        raise
    return frozenset(registered)


class Service:
    """Everything a request needs, for the life of the process."""

    def __init__(self, config: ServerConfig) -> None:
        self.generation = load_generation(1, config)
        self.runner = Runner(config.limits.signing_threads)
        self.metrics = Metrics()
        self.limiter = RateLimiter()
        self.access_log = AccessLog(config.access_log)
        self.upstream = Upstream(config.upstream, config.limits.request_timeout) if config.upstream else None
        self.audit = AuditTrail(config.audit_db).enable() if config.audit_db else None
        self.reload_task: asyncio.Task[None] | None = None
        self.last_reload: dict[str, Any] | None = None

    async def node_call(self, method: str, params: Any) -> Any:
        if self.upstream is None:
            raise RpcError(METHOD_NOT_FOUND, f"{method}: no node is configured (server.upstream)")
        return await self.upstream.call(method, params)

    def authenticate(
        self, authorization: str | None, peer_certificate: str | None, generation: Generation
    ) -> ClientConfig | None:
        """The client of a request's Authorization header, or else of its TLS client certificate."""
        clients = generation.config.clients.values()
        token = bearer_token(authorization)
        if token is not None:
            return client_for_token(token, clients)
        return client_for_certificate(peer_certificate, clients)

    # -- reload ------------------------------------------------------------------------------------------
    def start_reload(self) -> bool:
        if self.reload_task is not None and not self.reload_task.done():
            return False
        self.reload_task = asyncio.get_running_loop().create_task(self._reload())
        return True

    async def _reload(self) -> None:
        current = self.generation
        path = current.config.path
        try:
            if path is None:
                raise ConfigError("the service was started without a configuration file")
            config = await self.runner.run_sync(load_config, path)
            generation = await self.runner.run_sync(load_generation, current.number + 1, config)
        except Exception as error:  # any failure keeps the current set; a non-library error is named by type only
            reason = str(error) if isinstance(error, SignerError) else f"internal error ({type(error).__name__})"
            self.last_reload = {"ok": False, "error": reason, "generation": current.number}
            log.warning("reload failed, still serving generation %d: %s", current.number, reason)
            return
        self.generation = generation
        for permission_id in current.sessions - generation.sessions:  # a grant taken out of the config
            SCOPES.unregister(permission_id)
        current.retired = True
        if current.active == 0:
            await self.runner.run_sync(current.keyring.close)
        self.last_reload = {"ok": True, "generation": generation.number}

    async def close(self) -> None:
        if self.reload_task is not None:
            with contextlib.suppress(Exception):
                await self.reload_task
        self.generation.keyring.close()
        self.runner.shutdown()
        log.info("stopped: in-flight requests finished, backends closed")
        if self.upstream is not None:
            await self.upstream.close()
        if self.audit is not None:
            self.audit.disable()
            self.audit.close()
        self.access_log.close()


class Front:
    """The ASGI app uvicorn runs: ``POST /`` goes straight to the JSON-RPC endpoint (after the Host allowlist),
    everything else (REST, lifespan, wrong methods) to the Starlette app. With CORS configured every request
    goes through Starlette, whose CORS middleware then answers preflights and adds the headers."""

    def __init__(self, starlette: Starlette, rpc: RpcEndpoint, hosts: AllowedHosts | None) -> None:
        self.starlette = starlette
        self.rpc = rpc
        self.hosts = hosts  # None: no direct path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        hosts = self.hosts
        if hosts is not None and scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "POST":
            if hosts.allows(scope):
                await self.rpc(scope, receive, send)
            else:
                await hosts.refuse(scope, receive, send)
            return
        await self.starlette(scope, receive, send)


def build_app(service: Service) -> Front:
    config = service.generation.config
    bind = f"[{config.host}]" if ":" in config.host else config.host  # an IPv6 literal, as Host headers write it
    hosts = list(config.allowed_hosts) or ["localhost", "127.0.0.1", "[::1]", bind]
    middleware = [Middleware(HostAllowlist, allowed=hosts)]
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["POST", "GET"],
                allow_headers=["authorization", "content-type"],
            )
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.service = service
        yield
        await service.close()

    rpc = RpcEndpoint(service)
    routes = [Route("/", rpc, methods=["POST"]), *rest.routes()]
    starlette = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    return Front(starlette, rpc, None if config.cors_origins else AllowedHosts(hosts))


def create_service(path: str | Path) -> Service:
    return Service(load_config(path))
