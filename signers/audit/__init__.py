"""The audit trail: every signature that leaves the library, and every refusal and failure, on record
before the signature is released. SQLite embedded, PostgreSQL for a fleet.

Enable it in code (``trail = AuditTrail(path_or_url); trail.enable()``) or for a whole process with
``SIGNERS_AUDIT_URL=postgresql://...`` / ``sqlite:///PATH`` (or the older ``SIGNERS_AUDIT_DB=PATH``), read
when the plugin manager starts. A signature whose record cannot be committed within the bound is discarded
and the request fails with ``AuditTrailError``. Rows hold what a reviewer needs to match signatures with what
happened on chain, never a secret.
"""

from __future__ import annotations

from .record import AuditEntry, PermissionSummary
from .schema import VERSION as SCHEMA_VERSION
from .store import DEFAULT_TIMEOUT, Store, open_store
from .trail import AuditTrail, from_environment

__all__ = [
    "DEFAULT_TIMEOUT",
    "SCHEMA_VERSION",
    "AuditEntry",
    "AuditTrail",
    "PermissionSummary",
    "Store",
    "from_environment",
    "open_store",
]
