"""Where records go: one interface, two stores (SQLite embedded, PostgreSQL for a fleet), chosen by URL.

    /var/lib/signers/audit.sqlite            a path: SQLite (as SIGNERS_AUDIT_DB has always meant)
    sqlite:///var/lib/signers/audit.sqlite   the same as a URL
    postgresql://signer@db.internal:5432/audit?password-source=env:AUDIT_DB_PASSWORD&timeout=3

Every store commits a record before ``insert`` returns and raises ``AuditTrailError`` when it cannot within
its bound (``timeout`` seconds, default 5): the Signer then discards the signature.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import ConfigurationError

DEFAULT_TIMEOUT = 5.0


class Store(ABC):
    placeholder: str  # the DB-API parameter marker: ? or %s

    @abstractmethod
    def describe(self) -> str:
        """Where the records go, without any secret (for reprs, errors and logs)."""

    @abstractmethod
    def insert(self, values: Sequence[Any]) -> None:
        """Commit one record (the values of schema.COLUMNS) or raise AuditTrailError within the bound."""

    @abstractmethod
    def select(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a read query."""

    @abstractmethod
    def version(self) -> int:
        """The schema version of the database (0: empty)."""

    @abstractmethod
    def migrate(self, target: int | None = None) -> int:
        """Bring the schema to ``target`` (default: the newest this code knows); return the version."""

    @abstractmethod
    def close(self) -> None: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


def _timeout(text: str | None) -> float:
    if text is None:
        text = os.environ.get("SIGNERS_AUDIT_TIMEOUT")
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise ConfigurationError(
            "audit trail timeout: must be a number of seconds between 0 and 600",
            hint="the bound an unreachable trail may hold a signing request (timeout=5 in the URL, or "
            "SIGNERS_AUDIT_TIMEOUT)",
        )
    return value


def open_store(target: str | os.PathLike[str], *, timeout: float | None = None, migrate: bool = True) -> Store:
    """The store a path or URL names, opened and (unless ``migrate=False``) migrated to the current schema."""
    text = os.fspath(target)
    if "://" not in text:
        from .sqlite import SQLiteStore

        return SQLiteStore(Path(text), timeout if timeout is not None else _timeout(None), migrate=migrate)
    scheme = text.partition("://")[0].lower()
    if scheme == "sqlite":
        parts = urlsplit(text)
        if parts.netloc or not parts.path:
            raise ConfigurationError(
                "audit trail URL: an SQLite URL is sqlite:///PATH (three slashes, no host)",
                hint="e.g. sqlite:///var/lib/signers/audit.sqlite, or give the path alone",
            )
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if set(query) - {"timeout"}:
            raise ConfigurationError("audit trail URL: an SQLite URL takes only the timeout parameter")
        from .sqlite import SQLiteStore

        bound = timeout if timeout is not None else _timeout(query.get("timeout"))
        return SQLiteStore(Path(parts.path), bound, migrate=migrate)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore, parse_url

        settings, query_timeout = parse_url(text)
        bound = timeout if timeout is not None else _timeout(query_timeout)
        return PostgresStore(settings, bound, migrate=migrate)
    raise ConfigurationError(
        "audit trail URL: the scheme must be sqlite or postgresql",
        hint="SIGNERS_AUDIT_URL=postgresql://USER@HOST:PORT/DB?password-source=env:NAME or sqlite:///PATH",
    )
