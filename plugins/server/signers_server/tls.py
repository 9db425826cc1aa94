"""The HTTP protocols of a TLS listener: idle connections closed at once on shutdown, and (mutual TLS) the
client certificate's SHA-256 fingerprint handed to the app in the ASGI scope.

uvicorn verifies the certificate against ``tls.client_ca`` but does not tell the app which certificate a
connection presented; this HTTP protocol reads it once per connection (after the handshake) and puts its
fingerprint in every request's scope as ``signers.peer_cert_sha256``, where ``auth`` matches it against
the clients' ``cert_sha256``."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .auth import certificate_fingerprint

SCOPE_KEY = "signers.peer_cert_sha256"


class TlsProtocol(H11Protocol):
    """On shutdown uvicorn closes an idle connection with ``transport.close()``; over TLS that sends
    close_notify and waits for the peer's, which an idle keep-alive client never sends, so SIGTERM waited the
    whole ``drain_timeout``. Nothing is in flight on an idle connection: it is dropped at once. A connection
    with a request running is left to finish, as uvicorn does."""

    def shutdown(self) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        super().shutdown()
        if idle:
            self.transport.abort()


class PeerCertificateProtocol(TlsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return
        fingerprint = certificate_fingerprint(der)
        app = self.app

        async def with_peer(scope: Any, receive: Any, send: Any) -> None:
            scope[SCOPE_KEY] = fingerprint
            await app(scope, receive, send)

        self.app = with_peer
