"""The audit trail: every signature that leaves the library, and every refusal, in SQLite.

Enable it in code (``trail = AuditTrail(path); trail.enable()``) or for a whole process with the environment
variable ``SIGNERS_AUDIT_DB=PATH`` (read when the plugin manager starts). Rows hold what a reviewer needs
to match signatures with what happened on chain (address, backend, kind, digest, signature, userOpHash,
chain id, the refusal reason), never a secret: backends describe themselves without credentials or PINs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .hookspecs import hookimpl
from .signature import Signature
from .signer import SignRequest

if TYPE_CHECKING:
    from .errors import SignerError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          REAL NOT NULL,           -- unix time
    outcome     TEXT NOT NULL,           -- signed | refused (by a policy) | failed (backend error, self-check)
    address     TEXT NOT NULL,
    backend     TEXT NOT NULL,
    kind        TEXT NOT NULL,           -- digest | message | typed_data | transaction | authorization | user_operation
    digest      TEXT NOT NULL,
    signature   TEXT,
    context     TEXT NOT NULL,           -- JSON: chain_id, user_op_hash, entry_point, permission_id...
    reason      TEXT                     -- why a request was refused
)
"""


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    outcome: str
    address: str
    backend: str
    kind: str
    digest: str
    signature: str | None
    context: dict[str, Any]
    reason: str | None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value)


class AuditTrail:
    """A plugin object: register it with the plugin manager (``enable``) to record every request."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise ConfigurationError(f"audit trail {self.path}: not an SQLite database ({exc})") from None

    def __repr__(self) -> str:
        return f"AuditTrail({str(self.path)!r})"

    def enable(self) -> AuditTrail:
        from .plugins import get_plugin_manager

        get_plugin_manager().register(self, name=f"audit:{self.path}")
        return self

    def disable(self) -> None:
        from .plugins import get_plugin_manager

        get_plugin_manager().unregister(self)

    def _record(self, request: SignRequest, outcome: str, signature: Signature | None, reason: str | None) -> None:
        context = json.dumps(dict(request.context), default=_jsonable, sort_keys=True)
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (at, outcome, address, backend, kind, digest, signature, context, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    outcome,
                    request.signer.address,
                    request.signer.backend.describe(),
                    request.kind,
                    "0x" + request.digest.hex(),
                    signature.to_hex() if signature else None,
                    context,
                    reason,
                ),
            )

    @hookimpl(wrapper=True)
    def before_sign(self, request: SignRequest) -> Generator[None, None, None]:
        try:
            return (yield)
        except Exception as refusal:  # a policy that fails with any error has refused
            self._record(request, "refused", None, f"{type(refusal).__name__}: {refusal}")
            raise

    @hookimpl
    def sign_failed(self, request: SignRequest, error: SignerError) -> None:
        self._record(request, "failed", None, f"{type(error).__name__}: {error}")

    @hookimpl
    def after_sign(self, request: SignRequest, signature: Signature) -> None:
        self._record(request, "signed", signature, None)

    def entries(self, *, address: str | None = None, outcome: str | None = None) -> list[AuditEntry]:
        query, args = "SELECT * FROM audit WHERE 1=1", list[str]()
        if address:
            query, args = query + " AND address = ?", [*args, address]
        if outcome:
            query, args = query + " AND outcome = ?", [*args, outcome]
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [AuditEntry(*row[:8], json.loads(row[8]), row[9]) for row in rows]  # type: ignore[call-arg]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def from_environment() -> AuditTrail | None:
    """The process-wide trail named by SIGNERS_AUDIT_DB, if set."""
    path = os.environ.get("SIGNERS_AUDIT_DB")
    return AuditTrail(path) if path else None
