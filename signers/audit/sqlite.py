"""The embedded store: one SQLite file in WAL mode, shared by the processes of one machine.

Each record is its own transaction, committed (synchronous=FULL) before ``insert`` returns. A writer waits
for another's lock at most the bound, then fails with a named error; so do a full disk, a read-only or
corrupt file, and a file deleted or replaced while the process runs (SQLite would keep writing to the
unlinked inode, and every later record would be lost without an error).
"""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import AuditSchemaError, AuditTrailError
from . import schema
from .store import Store

_INSERT = f"INSERT INTO audit ({', '.join(schema.COLUMNS)}) VALUES ({', '.join('?' * len(schema.COLUMNS))})"

# what an SQLite error code means for the trail, and what to do: (code names, extended codes included, as their
# names start with the code's; what happened; hint)
_CAUSES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("SQLITE_BUSY", "SQLITE_LOCKED"),
        "locked by another connection for more than {timeout:g} s",
        "another process holds a long transaction on the trail (a reader left open, a backup?); "
        "end it, or raise the bound (timeout=); nothing was released",
    ),
    (
        ("SQLITE_FULL",),
        "the disk (or the database's size limit) is full",
        "free space for the trail or move it (SIGNERS_AUDIT_DB); nothing was released",
    ),
    (
        ("SQLITE_READONLY",),
        "the file (or its folder, or its -wal/-shm files) is read-only",
        "give the signing process write access to the trail and its folder; nothing was released",
    ),
    (
        ("SQLITE_NOTADB", "SQLITE_CORRUPT"),
        "not an SQLite database, or a damaged one",
        "point SIGNERS_AUDIT_DB at the trail file (or a new path); keep the damaged file for review",
    ),
    (
        ("SQLITE_CANTOPEN",),
        "the file cannot be opened or created",
        "check that its folder exists and is writable by the signing process",
    ),
)


class SQLiteStore(Store):
    placeholder = "?"

    def __init__(self, path: Path, timeout: float, *, migrate: bool = True) -> None:
        self.path = path
        self.timeout = timeout
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                mode = path.stat().st_mode
                if not stat.S_ISREG(mode):
                    raise AuditTrailError(f"audit trail {path}: not a regular file")
                if not mode & 0o222:  # root may write anyway; an operator who made it read-only meant it
                    raise AuditTrailError(
                        f"audit trail {path}: the file is read-only",
                        hint="give the signing process write access to the trail (and its folder), or point "
                        "SIGNERS_AUDIT_DB at another file; nothing was signed",
                    )
        except OSError as exc:
            raise AuditTrailError(f"audit trail {path}: cannot create or read it ({exc.strerror})") from None
        try:
            self._db = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot open it") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a returned signature's record survives a power cut
            current = self.migrate() if migrate else self.version()
            if current > schema.VERSION:
                raise self._newer(current)
            info = path.stat()
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, "cannot open it") from None
            if isinstance(exc, OSError):
                raise AuditTrailError(f"audit trail {path}: {exc.strerror}") from None
            raise
        self._identity = (info.st_dev, info.st_ino)

    def describe(self) -> str:
        return f"sqlite://{self.path}" if self.path.is_absolute() else str(self.path)

    def _newer(self, version: int) -> AuditSchemaError:
        return AuditSchemaError(
            f"audit trail {self.path}: schema version {version} is newer than this signers knows ({schema.VERSION})"
        )

    def _error(self, exc: sqlite3.Error, doing: str) -> AuditTrailError:
        """A named error for an SQLite failure (its code, never a row's content)."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        where = f"audit trail {self.path}: {doing}"
        for names, what, hint in _CAUSES:
            if name.startswith(names):
                return AuditTrailError(f"{where}: {what.format(timeout=self.timeout)}", hint=hint)
        return AuditTrailError(f"{where}: {name or type(exc).__name__}")

    def _check_file(self) -> None:
        try:
            info = self.path.stat()
            same = (info.st_dev, info.st_ino) == self._identity
        except OSError:
            same = False
        if not same:
            raise AuditTrailError(
                f"audit trail {self.path}: the file was deleted or replaced while this process was writing to it",
                hint="restore the trail file or restart the process with a new one; records written since "
                "are in the deleted file (still open by this process); nothing was released",
            )

    def insert(self, values: Sequence[Any]) -> None:
        values = [*values[:-1], str(values[-1])]  # the uid as text
        with self._lock:
            self._check_file()
            try:
                self._db.execute(_INSERT, values)
            except sqlite3.Error as exc:
                raise self._error(exc, "cannot record") from None

    def select(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, list(args)).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc, "cannot read") from None

    def _version(self) -> int:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version == 0 and self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit'").fetchone():
            return 1  # a trail of the first releases: the table, no version mark
        return version

    def version(self) -> int:
        with self._lock:
            return self._version()

    def migrate(self, target: int | None = None) -> int:
        target = schema.VERSION if target is None else target
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one migrating process at a time; the others see its result
            try:
                current = self._version()
                if current > schema.VERSION:
                    raise self._newer(current)
                for version in range(current + 1, target + 1):
                    for statement in schema.SQLITE[version]:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return max(current, target)

    def close(self) -> None:
        with self._lock:
            self._db.close()
