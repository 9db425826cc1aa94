"""The Python client of ``signers serve``: a key held by the service, as a ``signers`` backend.

    signers.load_signer("signers+https://signer.internal:8443/payments?token-source=env:SIGNER_TOKEN&ca-file=ca.pem")
    signers.load_signer("signers+http://127.0.0.1:8545/payments?token-source=file:/run/secrets/token")  # loopback

KEY is a key name of the service's ``[keys]`` table (or the key's address). Attributes: ``token-source``
(``env:NAME`` or ``file:PATH``, never the token itself; required unless the client is known by its certificate),
``ca-file`` (a private CA), ``cert-file`` and ``key-file`` (mutual TLS), ``timeout`` (seconds, default 10).
``signers+http`` is refused for a host that is not loopback: the token would cross the network in clear text.
"""

from __future__ import annotations

from signers.hookspecs import Register, hookimpl

from .backend import RemoteBackend, from_uri

__all__ = ["RemoteBackend", "register_backends"]


@hookimpl
def register_backends(register: Register) -> None:
    register("signers+https", from_uri, "a key held by a signers serve service (TLS)")
    register("signers+http", from_uri, "a key held by a signers serve service on loopback")
