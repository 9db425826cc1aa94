"""The service's TOML configuration: named keys, named clients and their rights, TLS, limits.

Secrets never sit in the file: client tokens are stored as hashes (``signers serve hash-token``), PINs and
passwords come from sources inside the key URIs (``pin-source=env:NAME``). A field that holds a plaintext
secret is refused with an error naming the field, never quoting its value.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signers.errors import SignerError

from .auth import parse_token_hash
from .plaintext import URI_SECRET_ATTRIBUTES, refuse_secrets
from .readers import (
    ConfigError as ConfigError,  # re-exported: the service's configuration error
)
from .readers import (
    boolean,
    integer,
    is_loopback,
    known,
    opt_integer,
    opt_string,
    path_text,
    string,
    string_list,
    table,
)

# What a client may call when its config does not say: every standard method, not the raw digest.
DEFAULT_METHODS = frozenset(
    {
        "eth_accounts",
        "eth_chainId",
        "personal_sign",
        "eth_sign",
        "eth_signTypedData_v4",
        "eth_signTypedData",
        "eth_signTransaction",
        "eth_sendTransaction",
        "health_status",
        "signers_signUserOperation",
        "signers_signAuthorization",
        "node",  # every eth_* read proxied to the node
    }
)
KNOWN_METHODS = DEFAULT_METHODS | {"signers_signDigest", "reload"}  # reload: POST /reload


@dataclass(frozen=True)
class KeyConfig:
    name: str
    uri: str
    processes: int | None = None  # pkcs11: sign in this many worker processes (signers_pkcs11.SigningPool)


@dataclass(frozen=True)
class ClientConfig:
    name: str
    token_sha256: bytes | None
    cert_sha256: str | None  # mTLS: the client certificate's SHA-256 fingerprint (hex, lowercase)
    keys: frozenset[str]  # key names; "*" for every key
    methods: frozenset[str]
    chain_ids: frozenset[int]
    to: frozenset[str] | None  # lowercase addresses; None: any
    max_value_wei: int | None
    max_fee_per_gas_wei: int | None
    raw_digest: bool
    hash_messages: bool  # may personal_sign / eth_sign a bare 32-byte message (a hash)
    rate_per_second: float
    rate_burst: int

    def may_use_key(self, name: str) -> bool:
        return "*" in self.keys or name in self.keys


@dataclass(frozen=True)
class TlsConfig:
    cert: Path
    key: Path
    key_password_source: str | None
    client_ca: Path | None


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2 * 1024 * 1024  # six blobs in hex fit
    max_batch: int = 100
    request_timeout: float = 30.0
    body_timeout: float = 10.0
    signing_threads: int = 8
    drain_timeout: float = 20.0
    rate_per_second: float = 100.0
    rate_burst: int = 300


@dataclass(frozen=True)
class ServerConfig:
    path: Path | None
    host: str = "127.0.0.1"
    port: int = 8550
    allow_insecure_bind: bool = False
    chain_id: int | None = None
    upstream: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    access_log: str = "-"
    audit_db: str | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    tls: TlsConfig | None = None
    limits: Limits = field(default_factory=Limits)
    keys: Mapping[str, KeyConfig] = field(default_factory=dict)
    clients: Mapping[str, ClientConfig] = field(default_factory=dict)
    sessions: tuple[Mapping[str, Any], ...] = ()  # {"session": Session dict, "account": address or None}
    addresses: Mapping[int, Mapping[str, str]] = field(default_factory=dict)  # AddressBook overrides per chain


# -- reading -------------------------------------------------------------------------------------------------
def load_config(path: str | Path) -> ServerConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the configuration {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # the decoder's message names the line and column, not the content
        raise ConfigError(f"the configuration {path} is not valid TOML: {exc}") from None
    return parse_config(data, path)


def parse_config(data: Mapping[str, Any], path: Path | None = None) -> ServerConfig:
    refuse_secrets(data, "")
    known(data, "", {"server", "tls", "metrics", "limits", "keys", "clients", "sessions", "addresses"})
    server = table(data, "server")
    known(
        server,
        "server.",
        {
            "host",
            "port",
            "allow_insecure_bind",
            "chain_id",
            "upstream",
            "allowed_hosts",
            "cors_origins",
            "access_log",
            "audit_db",
        },
    )
    tls = _tls(table(data, "tls"), path)
    host = string(server, "server.host", "127.0.0.1")
    allow_insecure = boolean(server, "server.allow_insecure_bind", False)
    if tls is None and not is_loopback(host) and not allow_insecure:
        raise ConfigError(
            f"server.host: {host} is not a loopback address and [tls] is not configured",
            hint="configure [tls] (cert, key), or set server.allow_insecure_bind = true behind a TLS proxy",
        )
    limits = _limits(table(data, "limits"))
    chain_id = opt_integer(server, "server.chain_id")
    keys = _keys(table(data, "keys"))
    clients = _clients(table(data, "clients"), keys, chain_id, limits)
    pinned = sorted(name for name, client in clients.items() if client.cert_sha256 is not None)
    if pinned and (tls is None or tls.client_ca is None):
        raise ConfigError(
            f"clients.{pinned[0]}.cert_sha256: client certificates need [tls] with client_ca",
            hint="client_ca may hold the clients' own self-signed certificates",
        )
    metrics = table(data, "metrics")
    known(metrics, "metrics.", {"host", "port"})
    metrics_port = opt_integer(metrics, "metrics.port")
    metrics_host = string(metrics, "metrics.host", "127.0.0.1")
    if metrics_port is not None and not is_loopback(metrics_host) and not allow_insecure:
        raise ConfigError(
            f"metrics.host: {metrics_host} is not a loopback address",
            hint="serve metrics on loopback, or set server.allow_insecure_bind = true",
        )
    upstream = server.get("upstream")
    if upstream is not None and (not isinstance(upstream, str) or not re.match(r"^https?://", upstream)):
        raise ConfigError("server.upstream: must be an http:// or https:// URL of an Ethereum node")
    base = path.parent if path else Path.cwd()
    return ServerConfig(
        path=path,
        host=host,
        port=integer(server, "server.port", 8550),
        allow_insecure_bind=allow_insecure,
        chain_id=chain_id,
        upstream=upstream,
        allowed_hosts=tuple(string_list(server, "server.allowed_hosts")),
        cors_origins=tuple(string_list(server, "server.cors_origins")),
        access_log=path_text(string(server, "server.access_log", "-"), base),
        audit_db=_audit_target(server, base),
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        tls=tls,
        limits=limits,
        keys=keys,
        clients=clients,
        sessions=_sessions(data.get("sessions", []), base),
        addresses=_addresses(table(data, "addresses")),
    )


def _audit_target(server: Mapping[str, Any], base: Path) -> str | None:
    """server.audit_db: an SQLite path (relative to the config file) or a store URL (sqlite:///PATH,
    postgresql://...), which goes to signers.audit as it is: its password comes from a source there."""
    if not opt_string(server, "server.audit_db"):
        return None
    value: str = server["audit_db"]
    return value if "://" in value else path_text(value, base)


def _tls(table: Mapping[str, Any], path: Path | None) -> TlsConfig | None:
    if not table:
        return None
    known(table, "tls.", {"cert", "key", "key_password_source", "client_ca"})
    base = path.parent if path else Path.cwd()
    cert, key = string(table, "tls.cert", ""), string(table, "tls.key", "")
    if not cert or not key:
        raise ConfigError("tls: both cert and key (PEM file paths) are required")
    source = opt_string(table, "tls.key_password_source")
    ca = opt_string(table, "tls.client_ca")
    return TlsConfig(base / cert, base / key, source, base / ca if ca else None)


def _limits(table: Mapping[str, Any]) -> Limits:
    defaults = Limits()
    known(table, "limits.", set(Limits.__dataclass_fields__))
    values: dict[str, Any] = {}
    for name in Limits.__dataclass_fields__:
        default = getattr(defaults, name)
        if name in table:
            raw = table[name]
            ok = isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw > 0
            if not ok or (isinstance(default, int) and not isinstance(raw, int)):
                raise ConfigError(f"limits.{name}: must be a positive {type(default).__name__}")
            values[name] = raw
    return Limits(**values)


def _keys(table: Mapping[str, Any]) -> dict[str, KeyConfig]:
    keys: dict[str, KeyConfig] = {}
    for name, item in table.items():
        where = f"keys.{name}"
        if not isinstance(item, Mapping):
            raise ConfigError(f'{where}: must be a table with uri = "scheme:..."')
        known(item, where + ".", {"uri", "processes"})
        uri = string(item, where + ".uri", "")
        if not re.match(r"^[a-z][a-z0-9+.-]*:", uri):
            raise ConfigError(f"{where}.uri: not a signer URI (scheme:...)", hint="see `signers backends`")
        if URI_SECRET_ATTRIBUTES.search(uri):
            raise ConfigError(
                f"{where}.uri: carries a plaintext secret attribute",
                hint="give PINs and passwords as pin-source= / password-source= (env:NAME or file:PATH)",
            )
        processes = opt_integer(item, where + ".processes")
        if processes is not None and (processes < 1 or not uri.startswith("pkcs11:")):
            raise ConfigError(f"{where}.processes: a positive number of worker processes, for pkcs11: keys only")
        keys[name] = KeyConfig(name, uri, processes)
    return keys


_CLIENT_FIELDS = {
    "token_hash",
    "cert_sha256",
    "keys",
    "methods",
    "chain_ids",
    "to",
    "max_value_wei",
    "max_fee_per_gas_wei",
    "raw_digest",
    "hash_messages",
    "rate_per_second",
    "rate_burst",
}


def _clients(
    table: Mapping[str, Any], keys: Mapping[str, KeyConfig], chain_id: int | None, limits: Limits
) -> dict[str, ClientConfig]:
    return {name: _client(name, item, keys, chain_id, limits) for name, item in table.items()}


def _client(name: str, item: Any, keys: Mapping[str, KeyConfig], chain_id: int | None, limits: Limits) -> ClientConfig:
    where = f"clients.{name}"
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: must be a table")
    known(item, where + ".", _CLIENT_FIELDS)
    digest, cert = _credential(item, where)
    key_names = string_list(item, where + ".keys")
    for key in key_names:
        if key != "*" and key not in keys:
            raise ConfigError(f"{where}.keys: no key named {key!r} in [keys]")
    raw_digest = boolean(item, where + ".raw_digest", False)
    return ClientConfig(
        name=name,
        token_sha256=digest,
        cert_sha256=cert,
        keys=frozenset(key_names),
        methods=_methods(item, where, raw_digest),
        chain_ids=_chain_ids(item, where, chain_id),
        to=_to(item, where),
        max_value_wei=opt_integer(item, where + ".max_value_wei"),
        max_fee_per_gas_wei=opt_integer(item, where + ".max_fee_per_gas_wei"),
        raw_digest=raw_digest,
        hash_messages=boolean(item, where + ".hash_messages", False),
        rate_per_second=float(item.get("rate_per_second", limits.rate_per_second)),
        rate_burst=int(item.get("rate_burst", limits.rate_burst)),
    )


def _credential(item: Mapping[str, Any], where: str) -> tuple[bytes | None, str | None]:
    """(the token's SHA-256, the certificate's fingerprint): at least one of them."""
    token_hash = opt_string(item, where + ".token_hash")
    cert = opt_string(item, where + ".cert_sha256")
    if token_hash is None and cert is None:
        raise ConfigError(f"{where}: no credential", hint="give token_hash (signers serve hash-token) or cert_sha256")
    digest = parse_token_hash(token_hash, where + ".token_hash") if token_hash is not None else None
    if cert is not None:
        cert = cert.replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", cert):
            raise ConfigError(f"{where}.cert_sha256: must be the certificate's SHA-256 fingerprint (64 hex digits)")
    return digest, cert


def _methods(item: Mapping[str, Any], where: str, raw_digest: bool) -> frozenset[str]:
    methods = frozenset(string_list(item, where + ".methods")) or DEFAULT_METHODS
    for method in methods:
        if method not in KNOWN_METHODS:
            raise ConfigError(
                f"{where}.methods: unknown method {method!r}", hint=f"known: {', '.join(sorted(KNOWN_METHODS))}"
            )
    if raw_digest:
        return methods | {"signers_signDigest"}
    if "signers_signDigest" in methods:
        raise ConfigError(f"{where}.methods: signers_signDigest needs raw_digest = true (off by default)")
    return methods


def _chain_ids(item: Mapping[str, Any], where: str, chain_id: int | None) -> frozenset[int]:
    chain_ids = item.get("chain_ids")
    if chain_ids is None:
        if chain_id is None:
            raise ConfigError(
                f"{where}.chain_ids: list the chain ids this client may sign for",
                hint="or set server.chain_id, the default for every client",
            )
        chain_ids = [chain_id]
    if not isinstance(chain_ids, list) or not all(isinstance(c, int) and c >= 0 for c in chain_ids):
        raise ConfigError(f"{where}.chain_ids: must be a list of integers")
    return frozenset(chain_ids)


def _to(item: Mapping[str, Any], where: str) -> frozenset[str] | None:
    to = item.get("to")
    if to is None:
        return None
    if not isinstance(to, list) or not all(isinstance(a, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", a) for a in to):
        raise ConfigError(f"{where}.to: must be a list of 0x addresses")
    return frozenset(a.lower() for a in to)


def _sessions(items: Any, base: Path) -> tuple[Mapping[str, Any], ...]:
    """``[[sessions]]`` with ``file = "grant.json"`` (a Session.to_dict) or ``session = {...}``, and an
    optional ``account``: granted sessions the scope check must know to let their keys sign."""
    import json

    if not isinstance(items, list):
        raise ConfigError("sessions: must be an array of tables ([[sessions]])")
    out = []
    for index, item in enumerate(items):
        where = f"sessions[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: must be a table")
        known(item, where + ".", {"file", "session", "account", "max_cost_wei"})
        if "file" in item:
            try:
                session = json.loads((base / string(item, where + ".file", "")).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise ConfigError(f"{where}.file: cannot read a JSON Session from it") from None
        else:
            session = item.get("session")
        if not isinstance(session, Mapping):
            raise ConfigError(f'{where}: give file = "grant.json" or session = {{...}} (Session.to_dict())')
        out.append(
            {
                "session": session,
                "account": opt_string(item, where + ".account"),
                "max_cost_wei": opt_integer(item, where + ".max_cost_wei"),
            }
        )
    return tuple(out)


def _addresses(table: Mapping[str, Any]) -> dict[int, Mapping[str, str]]:
    out: dict[int, Mapping[str, str]] = {}
    for chain, book in table.items():
        if not str(chain).isdigit() or not isinstance(book, Mapping):
            raise ConfigError(f"addresses.{chain}: must be [addresses.CHAIN_ID] with AddressBook fields")
        out[int(chain)] = {str(k): str(v) for k, v in book.items()}
    return out


# -- what the scope check needs, parsed (registered by the app; checked by --check-config) -----------------
def address_books(config: ServerConfig) -> dict[int, Any]:
    """``[addresses.CHAIN_ID]`` as AddressBooks (the canonical deployment with these addresses replaced)."""
    from signers.aa import CANONICAL

    books = {}
    for chain_id, overrides in config.addresses.items():
        try:
            books[chain_id] = CANONICAL.with_overrides(**overrides)
        except SignerError as error:
            raise ConfigError(f"addresses.{chain_id}: {error.message}") from None
        except (TypeError, ValueError):
            raise ConfigError(f"addresses.{chain_id}: unknown AddressBook field or not an address") from None
    return books


def granted_sessions(config: ServerConfig) -> list[tuple[Any, Mapping[str, Any]]]:
    """``[[sessions]]`` as (Session, its entry)."""
    from signers.aa import Session

    out = []
    for index, item in enumerate(config.sessions):
        try:
            out.append((Session.from_dict(item["session"]), item))
        except SignerError as error:
            raise ConfigError(f"sessions[{index}]: {error.message}") from None
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"sessions[{index}]: not a Session (Session.to_dict())") from None
    return out
