"""Who is calling: bearer tokens stored as SHA-256 hashes and compared in constant time, or a client
certificate's fingerprint (mutual TLS).

Tokens are 256-bit random strings made by ``signers serve hash-token``, so a plain SHA-256 is the right
store (as for GitHub or PyPI tokens): no password stretching is needed against guessing 2**256 values,
and it keeps authentication cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import ClientConfig

_HASH = re.compile(r"^sha256:([0-9a-f]{64})$")


def new_token() -> str:
    """A fresh client token: 32 random bytes, URL-safe."""
    return "sgn_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What goes in the config: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_token_hash(text: str, where: str) -> bytes:
    match = _HASH.match(text.strip())
    if match is None:
        from .readers import ConfigError

        raise ConfigError(
            f"{where}: not a token hash (sha256:<64 hex digits>)",
            hint="store the hash, never the token: `signers serve hash-token` prints both",
        )
    return bytes.fromhex(match.group(1))


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def client_for_token(token: str, clients: Iterable[ClientConfig]) -> ClientConfig | None:
    """The client whose token this is. Every stored hash is compared, each in constant time, so the time
    taken says nothing about which client (or how much of a hash) matched."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
    found = None
    for client in clients:
        if client.token_sha256 is not None and hmac.compare_digest(digest, client.token_sha256):
            found = client
    return found


def client_for_certificate(fingerprint: str | None, clients: Iterable[ClientConfig]) -> ClientConfig | None:
    if fingerprint is None:
        return None
    found = None
    for client in clients:
        if client.cert_sha256 is not None and hmac.compare_digest(fingerprint, client.cert_sha256):
            found = client
    return found


def certificate_fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()
