"""The audit table's versions, as migrations per store. A store applies what its database lacks, in order,
in one transaction, and refuses a database whose version is newer than ``VERSION``.

Version 1 is the single table of the first releases (SQLite only, kept as is so that their files are
migrated, not refused). Version 2 adds a column for each thing an investigator filters on, the record's own
id (so that a write retried after a lost answer is stored once), and the indexes of the queries.
"""

from __future__ import annotations

VERSION = 2

# the columns of version 2, in the order AuditEntry and Record use them (id is the database's)
COLUMNS = (
    "at", "outcome", "address", "backend", "kind", "digest", "signature", "context", "reason",
    "chain_id", "user_op_hash", "permission_id", "session_key", "account", "entry_point", "client", "host", "pid",
    "uid",
)  # fmt: skip

_V2_COLUMNS = (
    "chain_id TEXT",  # decimal text: any chain id an EIP-155 transaction may carry, beyond 64 bits
    "user_op_hash TEXT",
    "permission_id TEXT",
    "session_key TEXT",
    "account TEXT",
    "entry_point TEXT",
    "client TEXT",
    "host TEXT",
    "pid INTEGER",
)
_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS audit_uid ON audit (uid)",
    "CREATE INDEX IF NOT EXISTS audit_address ON audit (address, id)",
    "CREATE INDEX IF NOT EXISTS audit_permission ON audit (permission_id, id)",
    "CREATE INDEX IF NOT EXISTS audit_user_op ON audit (user_op_hash)",
    "CREATE INDEX IF NOT EXISTS audit_account ON audit (account, id)",
    "CREATE INDEX IF NOT EXISTS audit_client ON audit (client, id)",
    "CREATE INDEX IF NOT EXISTS audit_at ON audit (at)",
)

SQLITE: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS audit (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            at          REAL NOT NULL,           -- unix time
            outcome     TEXT NOT NULL,           -- signed | refused (by a policy) | failed (backend, self-check)
            address     TEXT NOT NULL,
            backend     TEXT NOT NULL,
            kind        TEXT NOT NULL,           -- digest | message | typed_data | transaction | ...
            digest      TEXT NOT NULL,
            signature   TEXT,
            context     TEXT NOT NULL,           -- JSON: chain_id, user_op_hash, entry_point, ...
            reason      TEXT                     -- why a request was refused or failed
        )"""
    ],
    2: [
        *(f"ALTER TABLE audit ADD COLUMN {column}" for column in (*_V2_COLUMNS, "uid TEXT")),
        # what version 1 kept only in the context JSON becomes searchable
        """UPDATE audit SET
            chain_id = CAST(json_extract(context, '$.chain_id') AS TEXT),
            user_op_hash = lower(json_extract(context, '$.user_op_hash')),
            entry_point = json_extract(context, '$.entry_point'),
            account = json_extract(context, '$.sponsored')""",
        *_INDEXES,
    ],
}

POSTGRESQL: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS audit (
            id          BIGSERIAL PRIMARY KEY,
            at          DOUBLE PRECISION NOT NULL,
            outcome     TEXT NOT NULL,
            address     TEXT NOT NULL,
            backend     TEXT NOT NULL,
            kind        TEXT NOT NULL,
            digest      TEXT NOT NULL,
            signature   TEXT,
            context     JSONB NOT NULL,
            reason      TEXT
        )"""
    ],
    2: [
        "ALTER TABLE audit " + ", ".join(f"ADD COLUMN {column}" for column in (*_V2_COLUMNS, "uid UUID")),
        """UPDATE audit SET
            chain_id = context->>'chain_id', user_op_hash = lower(context->>'user_op_hash'),
            entry_point = context->>'entry_point', account = context->>'sponsored'""",
        *_INDEXES,
    ],
}
