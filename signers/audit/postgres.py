"""The fleet's store: PostgreSQL through psycopg 3 and a connection pool (``pip install "signers[postgres]"``,
imported only when a postgresql:// trail is opened).

The password comes from ``password-source=env:NAME|file:PATH`` or from libpq's own mechanisms (PGPASSFILE or
``passfile=``, a service file with ``service=``, PGPASSWORD); a password written into the URL is refused,
and no error, repr or log line shows one. Each record is committed (synchronous_commit as the server has
it, on by default) before ``insert`` returns; a connection lost under a write is retried within the bound,
and the record's uid makes the retry a no-op if the first write had in fact landed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import AuditSchemaError, AuditTrailError, ConfigurationError
from ..secrets import Secret, read_secret
from . import schema
from .store import Store

# libpq settings a URL may pass through (the rest of libpq's keywords are set by the store or have no use)
LIBPQ_PARAMETERS = frozenset(
    {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "passfile", "service", "application_name",
     "target_session_attrs", "gssencmode", "channel_binding"}
)  # fmt: skip
_OURS = frozenset({"password-source", "timeout", "pool-size"})
_MIGRATION_LOCK = 0x5167_6E65_7273  # pg_advisory_xact_lock key: one migrating writer at a time

_INSERT = (
    f"INSERT INTO audit ({', '.join(schema.COLUMNS)}) VALUES ("
    + ", ".join("%s::jsonb" if column == "context" else "%s" for column in schema.COLUMNS)
    + ") ON CONFLICT (uid) DO NOTHING"
)


@dataclass(frozen=True)
class Settings:
    host: str | None
    port: int | None
    dbname: str | None
    user: str | None
    password: Secret | None = field(repr=False)
    libpq: dict[str, str]
    pool_size: int

    def describe(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"postgresql://{user}{self.host or ''}{port}/{self.dbname or ''}"


def parse_url(text: str) -> tuple[Settings, str | None]:
    """Settings and the timeout text of a postgresql:// URL. Errors name the part and the rule only."""
    try:
        parts = urlsplit(text)
        port, user, password, host = parts.port, parts.username, parts.password, parts.hostname
    except ValueError:
        raise ConfigurationError(
            "audit trail URL: malformed (the port must be a number from 1 to 65535; an IPv6 host goes in [])",
            hint="postgresql://USER@HOST:PORT/DATABASE?password-source=env:NAME",
        ) from None
    if password is not None:
        raise ConfigurationError(
            "audit trail URL: a password in the URL is not accepted",
            hint="use password-source=env:NAME or file:PATH, or libpq's passfile or service file",
        )
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query: dict[str, str] = {}
    for position, (name, value) in enumerate(pairs, 1):
        if name not in _OURS | LIBPQ_PARAMETERS or name in query:
            raise ConfigurationError(
                f"audit trail URL: query parameter {position} is unknown or repeated",
                hint="accepted: " + ", ".join(sorted(_OURS | LIBPQ_PARAMETERS)),
            )
        query[name] = value
    source = query.pop("password-source", None)
    secret = read_secret(source, "audit database password") if source is not None else None
    timeout = query.pop("timeout", None)
    size_text = query.pop("pool-size", "8")
    if not size_text.isdigit() or not 1 <= int(size_text) <= 100:
        raise ConfigurationError("audit trail URL: pool-size must be a whole number from 1 to 100")
    dbname = unquote(parts.path.lstrip("/")) or None
    settings = Settings(
        unquote(host) if host else None, port, dbname, unquote(user) if user else None, secret, query, int(size_text)
    )
    return settings, timeout


def _import() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        raise ConfigurationError(
            "a postgresql:// audit trail needs psycopg 3 and psycopg-pool",
            hint='pip install "signers[postgres]"',
        ) from None
    return psycopg, psycopg_pool


class PostgresStore(Store):
    placeholder = "%s"

    def __init__(self, settings: Settings, timeout: float, *, migrate: bool = True) -> None:
        psycopg, psycopg_pool = _import()
        self.settings = settings
        self.timeout = timeout
        self._psycopg = psycopg
        self._pool_errors = (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed)
        self._transient = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)
        kwargs: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "dbname": settings.dbname,
            "user": settings.user,
            "application_name": "signers-audit",
            "connect_timeout": max(2, math.ceil(timeout)),  # libpq's minimum is 2 s
            "tcp_user_timeout": int(timeout * 1000),  # a peer that vanished without a word
            **settings.libpq,
        }
        if settings.password is not None:
            kwargs["password"] = settings.password.reveal()
        self._kwargs = {name: value for name, value in kwargs.items() if value is not None}
        with self._connect() as connection:
            current = self._migrate(connection) if migrate else self._version(connection)
        if current > schema.VERSION:
            raise self._newer(current)
        self._pool = psycopg_pool.ConnectionPool(
            "",
            # a write held up at the server (a lock on the table, a stalled disk) ends at the bound too; not on
            # the migrating connection above, whose statements may rightly take longer on a large trail
            kwargs={**self._kwargs, "autocommit": True, "options": f"-c statement_timeout={int(timeout * 1000)}"},
            min_size=1,
            max_size=settings.pool_size,
            timeout=timeout,
            name="signers-audit",
            open=False,
        )
        self._pool.open(wait=False)

    def describe(self) -> str:
        return self.settings.describe()

    def _newer(self, version: int) -> AuditSchemaError:
        return AuditSchemaError(
            f"audit trail {self.describe()}: schema version {version} is newer than this signers knows "
            f"({schema.VERSION})"
        )

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(**self._kwargs, autocommit=True)
        except self._psycopg.Error as exc:
            raise self._connect_error(exc) from None

    def _connect_error(self, exc: Exception) -> AuditTrailError:
        """What went wrong, from libpq's message, told in our words (libpq's text is never passed on)."""
        text, where = str(exc), f"audit trail {self.describe()}"
        if "password authentication failed" in text or "no password supplied" in text:
            return AuditTrailError(
                f"{where}: the server refused the credentials",
                hint="check password-source (or the passfile / service file) and the user name",
            )
        if "does not exist" in text and "database" in text:
            return AuditTrailError(
                f"{where}: the database does not exist on the server",
                hint="create it (createdb) or fix the database name in the URL",
            )
        if "does not exist" in text and "role" in text:
            return AuditTrailError(f"{where}: the user does not exist on the server", hint="fix the user in the URL")
        if "Connection refused" in text or "timeout expired" in text or "could not" in text:
            return AuditTrailError(
                f"{where}: the server cannot be reached",
                hint="check that PostgreSQL is running and reachable from this host",
            )
        return AuditTrailError(f"{where}: cannot connect ({type(exc).__name__})")

    def _version(self, connection: Any) -> int:
        if connection.execute("SELECT to_regclass('audit_schema')").fetchone()[0] is not None:
            row = connection.execute("SELECT version FROM audit_schema").fetchone()
            return int(row[0]) if row else 0
        return 1 if connection.execute("SELECT to_regclass('audit')").fetchone()[0] is not None else 0

    def _migrate(self, connection: Any, target: int | None = None) -> int:
        target = schema.VERSION if target is None else target
        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                current = self._version(connection)
                if current > schema.VERSION:
                    return current
                for version in range(current + 1, target + 1):
                    for statement in schema.POSTGRESQL[version]:
                        connection.execute(statement)
                if target > current:
                    connection.execute("CREATE TABLE IF NOT EXISTS audit_schema (version INTEGER NOT NULL)")
                    connection.execute("DELETE FROM audit_schema")
                    connection.execute("INSERT INTO audit_schema (version) VALUES (%s)", (target,))
                return max(current, target)
        except self._psycopg.Error as exc:
            raise AuditTrailError(
                f"audit trail {self.describe()}: cannot create or migrate the schema ({type(exc).__name__})",
                hint="the user needs CREATE on the database for the first start (or run `signers audit migrate` "
                "as its owner)",
            ) from None

    def version(self) -> int:
        with self._connect() as connection:
            return self._version(connection)

    def migrate(self, target: int | None = None) -> int:
        with self._connect() as connection:
            current = self._migrate(connection, target)
        if current > schema.VERSION:
            raise self._newer(current)
        return current

    def insert(self, values: Sequence[Any]) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                with self._pool.connection(timeout=max(remaining, 0.001)) as connection:
                    connection.execute(_INSERT, values)
                return
            except self._pool_errors as exc:
                # a connection that died while idle (a server restart) fails its first use: try another,
                # until the bound; the uid keeps a write that did land from being stored twice
                if not isinstance(exc, self._transient) or time.monotonic() + 0.05 >= deadline:
                    raise AuditTrailError(
                        f"audit trail {self.describe()}: cannot record within {self.timeout:g} s "
                        f"({type(exc).__name__})",
                        hint="check that PostgreSQL is running and reachable; signing resumes by itself when it "
                        "is back; nothing was released",
                    ) from None
                time.sleep(0.05)

    def select(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection(timeout=self.timeout) as connection:
                return list(connection.execute(sql, list(args)).fetchall())
        except self._pool_errors as exc:
            raise AuditTrailError(f"audit trail {self.describe()}: cannot read ({type(exc).__name__})") from None

    def close(self) -> None:
        self._pool.close()
