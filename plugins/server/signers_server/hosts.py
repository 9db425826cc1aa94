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


class HostAllowlist:
    def __init__(self, app: Any, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(host.lower() for host in allowed)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and "*" not in self.allowed:
            headers = dict(scope.get("headers") or [])
            host = host_of(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.allowed:
                await PlainTextResponse("Invalid host header", status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
