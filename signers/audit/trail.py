"""AuditTrail: the plugin that writes every request to a store, and the trail's Python query API."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Generator, Iterator
from dataclasses import asdict
from typing import IO, TYPE_CHECKING, Any

from ..hookspecs import SignRequest, hookimpl
from ..signature import Signature
from . import query, record
from .record import AuditEntry, PermissionSummary
from .store import Store, open_store

if TYPE_CHECKING:
    from ..errors import SignerError

log = logging.getLogger("signers.audit")


class AuditTrail:
    """Register it (``enable``) to record every request: signatures before they are released, refusals,
    failures at the backend. ``target`` is a path (SQLite) or a URL (``sqlite:///PATH``, ``postgresql://``);
    ``timeout`` bounds how long a request may wait on the trail (default 5 s, or timeout= in the URL)."""

    def __init__(self, target: str | os.PathLike[str], *, timeout: float | None = None) -> None:
        self.store: Store = open_store(target, timeout=timeout)
        self.path = getattr(self.store, "path", None)  # the SQLite file, None for a server

    @property
    def url(self) -> str:
        """Where the records go, without secrets."""
        return self.store.describe()

    def __repr__(self) -> str:
        return f"AuditTrail({self.url!r})"

    def enable(self) -> AuditTrail:
        from ..plugins import get_plugin_manager

        get_plugin_manager().register(self, name=f"audit:{self.url}:{id(self):x}")
        return self

    def disable(self) -> None:
        from ..plugins import get_plugin_manager

        get_plugin_manager().unregister(self)

    def _record(self, request: SignRequest, outcome: str, signature: Signature | None, reason: str | None) -> None:
        self.store.insert(record.row(request, outcome, signature, reason))

    def _record_error(self, request: SignRequest, outcome: str, error: BaseException) -> None:
        """Record a refusal or failure; the caller gets that error in any case, with a note if the trail
        could not take it."""
        try:
            self._record(request, outcome, None, f"{type(error).__name__}: {error}")
        except Exception as trail_error:  # AuditTrailError: its message names the store, never a secret
            log.error("the %s request of %s is not on record: %s", outcome, request.signer.address, trail_error)
            error.add_note(f"and it is not on the audit record: {trail_error}")

    # -- hooks ------------------------------------------------------------------------------------------
    @hookimpl(wrapper=True)
    def before_sign(self, request: SignRequest) -> Generator[None, None, None]:
        try:
            return (yield)
        except Exception as refusal:  # a policy that fails with any error has refused
            self._record_error(request, "refused", refusal)
            raise

    @hookimpl
    def sign_failed(self, request: SignRequest, error: SignerError) -> None:
        self._record_error(request, "failed", error)

    @hookimpl(tryfirst=True)  # before metrics and other observers: a signature not on record was not made
    def after_sign(self, request: SignRequest, signature: Signature) -> None:
        self._record(request, "signed", signature, None)  # raises AuditTrailError: the Signer discards it

    # -- queries ----------------------------------------------------------------------------------------
    def entries(self, *, limit: int | None = None, **filters: Any) -> list[AuditEntry]:
        """Records, oldest first, narrowed by ``query.Filter``'s fields: address, outcome, permission_id,
        user_op_hash, account, client, since, until."""
        sql, args = query.entries_sql(query.Filter(**filters), self.store.placeholder, limit)
        return [record.entry(row) for row in self.store.select(sql, args)]

    def summary(self, **filters: Any) -> list[PermissionSummary]:
        """Per Smart Sessions permission id: ops signed, refused and failed, first and last use."""
        sql, args = query.summary_sql(query.Filter(**filters), self.store.placeholder)
        return [
            PermissionSummary(pid, int(signed), int(refused), int(failed), float(first), float(last), int(a), int(k))
            for pid, signed, refused, failed, first, last, a, k in self.store.select(sql, args)
        ]

    def export(self, out: IO[str], **filters: Any) -> int:
        """Write the matching records as JSON lines (one object per record); return how many."""
        count = 0
        for entry in self.iter_json(**filters):
            out.write(entry + "\n")
            count += 1
        return count

    def iter_json(self, **filters: Any) -> Iterator[str]:
        for entry in self.entries(**filters):
            yield json.dumps(asdict(entry), sort_keys=True)

    def version(self) -> int:
        return self.store.version()

    def migrate(self, target: int | None = None) -> int:
        return self.store.migrate(target)

    def close(self) -> None:
        self.store.close()


def from_environment() -> AuditTrail | None:
    """The process-wide trail named by SIGNERS_AUDIT_URL (a URL or a path) or SIGNERS_AUDIT_DB (a path)."""
    target = os.environ.get("SIGNERS_AUDIT_URL") or os.environ.get("SIGNERS_AUDIT_DB")
    return AuditTrail(target) if target else None
