"""The audit trail: every signature that leaves the library, and every refusal and failure, on record
before the signature is released. SQLite embedded, PostgreSQL for a fleet.

Enable it in code (``trail = AuditTrail(path_or_url); trail.enable()``) or for a whole process with
``SIGNERS_AUDIT_URL=postgresql://...`` / ``sqlite:///PATH`` (or the older ``SIGNERS_AUDIT_DB=PATH``), read
when the plugin manager starts. A signature whose record cannot be committed within the bound is discarded
and the request fails with ``AuditTrailError``. Rows hold what a reviewer needs to match signatures with what
happened on chain, never a secret.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .record import AuditEntry, PermissionSummary
    from .schema import VERSION as SCHEMA_VERSION
    from .store import DEFAULT_TIMEOUT, Store, open_store
    from .trail import AuditTrail, from_environment

# imported on first use (PEP 562): the plugin manager imports signers.audit.environment at every start, and
# that must not cost the trail's modules when no trail is configured
_EXPORTS = {
    "AuditEntry": ("record", "AuditEntry"),
    "PermissionSummary": ("record", "PermissionSummary"),
    "SCHEMA_VERSION": ("schema", "VERSION"),
    "DEFAULT_TIMEOUT": ("store", "DEFAULT_TIMEOUT"),
    "Store": ("store", "Store"),
    "open_store": ("store", "open_store"),
    "AuditTrail": ("trail", "AuditTrail"),
    "from_environment": ("trail", "from_environment"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value


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
