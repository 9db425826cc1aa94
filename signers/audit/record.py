"""What one audit record holds, and how it is drawn from a SignRequest (never a secret: backends describe
themselves without credentials or PINs, and contexts carry identifiers and amounts only)."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ..caller import current_client
from ..hookspecs import SignRequest
from ..signature import Signature

OUTCOMES = ("signed", "refused", "failed")


@dataclass(frozen=True)
class AuditEntry:
    """One row of the trail. The first ten fields are the original ones; the rest arrived with schema 2
    (None in rows migrated from version 1 when the context did not hold them)."""

    id: int
    at: float  # unix time
    outcome: str  # signed | refused (by a policy) | failed (backend error, self-check, no record possible)
    address: str
    backend: str
    kind: str  # digest | message | typed_data | transaction | authorization | user_operation
    digest: str
    signature: str | None
    context: dict[str, Any]
    reason: str | None
    chain_id: int | None = None
    user_op_hash: str | None = None
    permission_id: str | None = None
    session_key: str | None = None
    account: str | None = None
    entry_point: str | None = None
    client: str | None = None
    host: str | None = None
    pid: int | None = None


@dataclass(frozen=True)
class PermissionSummary:
    """What one Smart Sessions permission did: ops signed and refused, first and last use (unix time)."""

    permission_id: str
    signed: int
    refused: int
    failed: int
    first_use: float
    last_use: float
    accounts: int  # distinct accounts it was used for
    session_keys: int  # distinct keys that signed or asked for it


def jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value)


def _hex(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value).lower()


_HOST = socket.gethostname()


def _from_user_operation(request: SignRequest) -> tuple[str | None, str | None, str | None]:
    """(permission id, session key, account) of a session op: the USE stub names the permission, the key
    that signs it is the session key (the scope check refuses any other)."""
    if request.kind != "user_operation" or request.payload is None:
        return None, None, None
    from ..aa.errors import AAConfigurationError
    from ..aa.sessions import decode_use_signature

    op = request.payload
    account = getattr(op, "sender", None)
    try:
        pid, _ = decode_use_signature(op.signature)
    except (AAConfigurationError, AttributeError):
        return None, None, account
    return _hex(pid), request.signer.address, account


def row(request: SignRequest, outcome: str, signature: Signature | None, reason: str | None) -> tuple[Any, ...]:
    """The values of schema.COLUMNS for this request."""
    context = request.context
    pid, session_key, account = _from_user_operation(request)
    chain_id = context.get("chain_id")
    return (
        time.time(),
        outcome,
        request.signer.address,
        request.signer.backend.describe(),
        request.kind,
        "0x" + request.digest.hex(),
        signature.to_hex() if signature else None,
        json.dumps(dict(context), default=jsonable, sort_keys=True),
        reason,
        None if chain_id is None else str(chain_id),
        _hex(context.get("user_op_hash")),
        _hex(context.get("permission_id")) or pid,
        context.get("session_key") or session_key,
        context.get("account") or context.get("sponsored") or account,
        context.get("entry_point"),
        current_client(),
        _HOST,
        os.getpid(),
        uuid.uuid4(),
    )


def entry(values: tuple[Any, ...]) -> AuditEntry:
    """An AuditEntry from a row selected as ``id, *COLUMNS[:-1]``."""
    fields = list(values)
    if isinstance(fields[8], str):  # SQLite keeps JSON as text, PostgreSQL as jsonb (decoded by psycopg)
        fields[8] = json.loads(fields[8])
    if fields[10] is not None:
        fields[10] = int(fields[10])
    return AuditEntry(*fields)
