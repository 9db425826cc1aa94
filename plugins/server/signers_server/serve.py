"""Running the service: uvicorn on the configured address, TLS (and mutual TLS) when configured, metrics
on their own port. SIGTERM (or Ctrl-C) stops accepting, lets in-flight requests finish within
``limits.drain_timeout`` seconds, then closes every backend."""

from __future__ import annotations

import logging
import ssl

import uvicorn

from signers.secrets import read_secret

from .app import Service, build_app
from .config import ServerConfig
from .onewrite import OneWriteProtocol
from .tls import PeerCertificateProtocol, TlsProtocol


def uvicorn_config(service: Service, config: ServerConfig) -> uvicorn.Config:
    options: dict[str, object] = {"http": OneWriteProtocol}  # TLS replaces it below (h11 there)
    if config.tls is not None:
        options["ssl_certfile"] = str(config.tls.cert)
        options["ssl_keyfile"] = str(config.tls.key)
        options["http"] = TlsProtocol
        if config.tls.key_password_source:
            options["ssl_keyfile_password"] = read_secret(config.tls.key_password_source, "TLS key password").reveal()
        if config.tls.client_ca is not None:
            options["ssl_ca_certs"] = str(config.tls.client_ca)
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
            options["http"] = PeerCertificateProtocol
    return uvicorn.Config(
        build_app(service),
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,  # our own JSON-lines access log replaces uvicorn's (which would show paths and peers)
        proxy_headers=False,  # nothing here reads the peer's address; X-Forwarded-* from a client is not trusted
        server_header=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=int(config.limits.drain_timeout),
        lifespan="on",
        **options,  # type: ignore[arg-type]
    )


def run(config: ServerConfig) -> None:
    handler = logging.StreamHandler()  # stderr: start, reload and stop events (the access log is separate)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("signers_server")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    service = Service(config)
    if config.metrics_port is not None:
        service.metrics.serve(config.metrics_host, config.metrics_port)
    server = uvicorn.Server(uvicorn_config(service, config))
    logger.info(
        "serving %d keys for %d clients on %s:%d", len(config.keys), len(config.clients), config.host, config.port
    )
    server.run()  # after a SIGTERM, uvicorn re-raises it once drained: the exit status says "terminated"
