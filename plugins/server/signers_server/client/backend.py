"""A key held by a ``signers serve`` service, as a backend: ``signers+https://host:port/KEY?token-source=env:NAME``.

The backend forwards each request with its context (``forward.py``) instead of a bare digest, and hands the
core a raw r||s; the core then checks, as for every backend, that the signature recovers to this key's address
over the digest it computed itself. A service that signed something else, or with another key, is caught there.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote

from eth_utils import is_hex_address

from signers.backend import Backend
from signers.errors import ConfigurationError, KeyNotFoundError, SignerError
from signers.keys import PublicKey
from signers.secrets import read_secret
from signers.signer import SignRequest
from signers.uri import SignerURI

from .forward import rpc_request, rs_of_65, signature_rs
from .transport import Endpoint, Transport

SCHEMES = {"signers+http": "http", "signers+https": "https"}
ATTRIBUTES = {"token-source", "ca-file", "cert-file", "key-file", "timeout"}
PUBLIC_KEYS_PATH = "/api/v1/eth1/publicKeys?names=true"  # Web3Signer's listing, with key names
BATCH = 50  # calls per JSON-RPC batch: under the service's default limit (limits.max_batch = 100)
_AUTHORITY = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_uri(uri: SignerURI) -> tuple[Endpoint, str]:
    """(where the service is, the key's name or address) from a ``signers+http(s)`` URI."""
    uri.refuse_unknown(ATTRIBUTES)
    authority, slash, name = uri.target.partition("/")
    name = unquote(name)
    if not slash or not name or "/" in name:
        raise ConfigurationError(
            f"{uri.scheme}: the URI names no key",
            hint=f"{uri.scheme}://HOST:PORT/KEY, KEY being a key name of the service's config or its address",
        )
    match = _AUTHORITY.match(authority)
    if not match:
        raise ConfigurationError(f"{uri.scheme}: the host part is not HOST or HOST:PORT")
    host = match.group(1)
    http = SCHEMES[uri.scheme]
    if http == "http" and not _is_loopback(host):
        raise ConfigurationError(
            "signers+http: the bearer token would cross the network in clear text",
            hint="use signers+https:// (with ca-file= for a private CA); signers+http is for loopback only",
        )
    tls_options = [k for k in ("ca-file", "cert-file", "key-file") if uri.option(k)]
    if http == "http" and tls_options:
        raise ConfigurationError(f"signers+http: {', '.join(tls_options)} needs signers+https")
    if bool(uri.option("cert-file")) != bool(uri.option("key-file")):
        raise ConfigurationError(f"{uri.scheme}: cert-file= and key-file= go together (mutual TLS)")
    try:
        timeout = float(uri.option("timeout") or 10.0)
    except ValueError:
        raise ConfigurationError(f"{uri.scheme}: timeout= must be a number of seconds") from None
    if not 0 < timeout <= 600:
        raise ConfigurationError(f"{uri.scheme}: timeout= must be between 0 and 600 seconds")
    endpoint = Endpoint(
        f"{http}://{authority}",
        timeout,
        uri.option("ca-file"),
        uri.option("cert-file"),
        uri.option("key-file"),
    )
    return endpoint, name


def _listed_keys(listing: Any) -> list[tuple[str | None, str]]:
    """(name, public key hex) pairs from the service's listing: {"name", "publicKey"} objects (``?names=true``),
    or Web3Signer's bare hex keys (no name: such a key is found by its address only)."""
    pairs: list[tuple[str | None, str]] = []
    for item in listing if isinstance(listing, list) else []:
        if isinstance(item, str):
            pairs.append((None, item))
        elif isinstance(item, dict) and isinstance(item.get("publicKey"), str):
            pairs.append((str(item.get("name")), item["publicKey"]))
    return pairs


class RemoteBackend(Backend):
    """A key behind a signing service. Thread-safe; the async twins use the service's async path."""

    signature_format = "rs"

    def __init__(self, endpoint: Endpoint, key: str, token_source: str | None) -> None:
        self.endpoint = endpoint
        self.key = key
        # a client may be known by its TLS certificate alone; otherwise the token is required
        token = None if endpoint.cert_file and not token_source else read_secret(token_source, "token")
        self._transport = Transport(endpoint, token)
        self._address = ""  # set by public_key()

    def describe(self) -> str:
        scheme = "signers+https" if self.endpoint.url.startswith("https:") else "signers+http"
        return f"{scheme}://{self.endpoint.url.split('://', 1)[1]}/{self.key}"

    def custody(self) -> dict[str, Any]:
        return {
            "backend": self.describe(),
            "custody": "a signers serve service holds the key; this process holds only a client token",
            "service": self.endpoint.url,
            "key": self.key,
            "tls": self.endpoint.url.startswith("https:"),
            "mutual_tls": bool(self.endpoint.cert_file),
        }

    def public_key(self) -> PublicKey:
        """The key from the service's listing (by name, or by address), checked against ``eth_accounts``: a
        key this client's token may not use is refused now, not at the first signature."""
        pairs = _listed_keys(self._transport.get_json(PUBLIC_KEYS_PATH))
        by_address = is_hex_address(self.key)
        found = []
        for name, hex_key in pairs:
            try:
                key = PublicKey.from_bytes(bytes.fromhex(hex_key.removeprefix("0x")))
            except ValueError:
                continue
            if (by_address and key.address.lower() == self.key.lower()) or (not by_address and name == self.key):
                found.append(key)
        if not found:
            raise KeyNotFoundError(
                f"the service at {self.endpoint.url} lists no key of the URI's name for this client",
                hint="use a key name from the service's [keys] table (or the key's address) that this client may use",
            )
        accounts = {str(a).lower() for a in self._transport.call("eth_accounts") or []}
        if found[0].address.lower() not in accounts:
            raise KeyNotFoundError(
                f"the service at {self.endpoint.url} does not let this client use the URI's key",
                hint="add the key to this client's keys in the service's config, or use another client's token",
            )
        self._address = found[0].address
        return found[0]

    def sign(self, digest: bytes) -> bytes:
        """A bare digest (what the core's default path and the conformance kit ask): ``signers_signDigest``,
        which the service grants per client."""
        params = [self._address, "0x" + digest.hex()]
        return rs_of_65(self._transport.call("signers_signDigest", params), "signers_signDigest")

    def sign_request(self, request: SignRequest) -> bytes:
        method, params = rpc_request(request)
        return signature_rs(request, method, self._transport.call(method, params))

    def sign_requests(self, requests: Sequence[SignRequest]) -> Iterator[bytes]:
        """Several requests (``Signer.sign_digests``) in JSON-RPC batches: one round trip per ``BATCH``."""
        for start in range(0, len(requests), BATCH):
            chunk = requests[start : start + BATCH]
            calls = [rpc_request(request) for request in chunk]
            for request, (method, _), result in zip(chunk, calls, self._transport.call_batch(calls), strict=True):
                if isinstance(result, SignerError):
                    raise result  # the ones before it were yielded; none after it is returned
                yield signature_rs(request, method, result)

    async def asign_request(self, request: SignRequest) -> bytes:
        method, params = rpc_request(request)
        return signature_rs(request, method, await self._transport.acall(method, params))

    def close(self) -> None:
        self._transport.close()

    async def aclose(self) -> None:
        await self._transport.aclose()


def from_uri(uri: SignerURI, **options: Any) -> RemoteBackend:
    if options:
        raise ConfigurationError(f"{uri.scheme}: unknown option(s) {', '.join(sorted(options))}")
    endpoint, key = parse_uri(uri)
    return RemoteBackend(endpoint, key, uri.option("token-source"))
