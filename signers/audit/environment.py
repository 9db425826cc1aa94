"""The process-wide audit trail named by SIGNERS_AUDIT_URL (or SIGNERS_AUDIT_DB), as an ordinary plugin: the
plugin manager calls ``plugin`` when it starts and registers the trail it returns (nothing when unset)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .trail import AuditTrail

VARIABLES = ("SIGNERS_AUDIT_URL", "SIGNERS_AUDIT_DB")


def plugin() -> AuditTrail | None:
    if not any(os.environ.get(name) for name in VARIABLES):
        return None  # the trail's modules (sqlite3, psycopg) are not imported at all
    from .trail import from_environment

    return from_environment()


plugin.signers_plugin_factory = True  # type: ignore[attr-defined]
