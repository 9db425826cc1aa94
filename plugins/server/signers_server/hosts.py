"""The Host allowlist: a request whose Host header names another host is refused (400) before any route runs,
so a web page cannot reach the service through DNS rebinding. IPv6 literals (``[::1]:8550``) are compared
whole, which Starlette's TrustedHostMiddleware does not do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import PlainTextResponse


def host_of(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class AllowedHosts:
    """The hosts a request may name; ``app.Front`` asks it directly, the Starlette app through ``HostAllowlist``."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(host.lower() for host in allowed)

    def allows(self, scope: Any) -> bool:
        if "*" in self.allowed:
            return True
        seen = False
        for name, value in scope.get("headers") or ():
            if name == b"host":  # every Host header must pass: a second one cannot smuggle another host in
                if host_of(value.decode("latin-1")) not in self.allowed:
                    return False
                seen = True
        return seen or "" in self.allowed  # no Host header at all (HTTP/1.0): refused unless "" is allowed

    @staticmethod
    async def refuse(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("Invalid host header", status_code=400)(scope, receive, send)


class HostAllowlist:
    """ASGI middleware: a request naming a host not allowed gets a 400, before any route runs."""

    def __init__(self, app: Any, allowed: Iterable[str]) -> None:
        self.app = app
        self.hosts = AllowedHosts(allowed)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and not self.hosts.allows(scope):
            await self.hosts.refuse(scope, receive, send)
            return
        await self.app(scope, receive, send)
