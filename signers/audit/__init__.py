"""The audit trail: every signature that leaves the library, and every refusal and failure, on record
before the signature is released. SQLite embedded, PostgreSQL for a fleet.

Enable it in code (``trail = AuditTrail(path_or_url); trail.enable()``) or for a whole process with
``SIGNERS_AUDIT_URL=postgresql://...`` / ``sqlite:///PATH`` (or the older ``SIGNERS_AUDIT_DB=PATH``), read
when the plugin manager starts. A signature whose record cannot be committed within the bound is discarded
and the request fails with ``AuditTrailError``. Rows hold what a reviewer needs to match signatures with what
happened on chain, never a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .record import AuditEntry, PermissionSummary
    from .schema import VERSION as SCHEMA_VERSION
    from .store import DEFAULT_TIMEOUT, Store, open_store
    from .trail import AuditTrail, from_environment

# imported on first use (PEP 562): the plugin manager imports signers.audit.environment at every start, and
# that must not cost the trail's modules when no trail is configured
__getattr__ = lazy_exports(
    __name__,
    {
        "AuditEntry": ".record",
        "PermissionSummary": ".record",
        "SCHEMA_VERSION": ".schema:VERSION",
        "DEFAULT_TIMEOUT": ".store",
        "Store": ".store",
        "open_store": ".store",
        "AuditTrail": ".trail",
        "from_environment": ".trail",
    },
)


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
