"""The trail's questions, as SQL both stores run: entries by address, outcome, permission id, userOpHash,
account, client and time range, and a summary per Smart Sessions permission."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from ..errors import ConfigurationError
from ..keccak import is_address, to_checksum_address
from .record import OUTCOMES
from .schema import COLUMNS

SELECT = "SELECT id, " + ", ".join(COLUMNS[:-1]) + " FROM audit"


@dataclass(frozen=True)
class Filter:
    """Every field narrows the result; None leaves it open. ``since``/``until`` are unix times (inclusive,
    exclusive) or datetimes. Addresses match in any letter case; hashes and ids are compared lower-case."""

    address: str | None = None
    outcome: str | None = None
    permission_id: str | None = None
    user_op_hash: str | None = None
    account: str | None = None
    client: str | None = None
    since: float | datetime | None = None
    until: float | datetime | None = None

    def where(self, placeholder: str) -> tuple[str, list[Any]]:
        """`` WHERE ...`` (or nothing) and its arguments, with the store's placeholder (? or %s)."""
        clauses: list[str] = []
        args: list[Any] = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None or value == "":
                continue
            if spec.name in ("since", "until"):
                clauses.append(f"at {'>=' if spec.name == 'since' else '<'} {placeholder}")
                args.append(value.timestamp() if isinstance(value, datetime) else float(value))
                continue
            clauses.append(f"{spec.name} = {placeholder}")
            args.append(_normalised(spec.name, value))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _normalised(name: str, value: str) -> str:
    """The stored form of a filter value: checksummed addresses, lower-case hashes. The error names the
    filter, never the value (a confused caller may paste anything)."""
    if name in ("address", "account"):
        if not is_address(value):
            raise ConfigurationError(f"audit filter {name}: not a 20-byte hex address")
        return to_checksum_address(value)
    if name == "outcome":
        if value not in OUTCOMES:
            raise ConfigurationError(f"audit filter outcome: must be one of {', '.join(OUTCOMES)}")
        return value
    if name in ("permission_id", "user_op_hash"):
        text = value.lower()
        if not text.startswith("0x") or len(text) != 66 or not all(c in "0123456789abcdef" for c in text[2:]):
            raise ConfigurationError(f"audit filter {name}: not a 0x-prefixed 32-byte hex value")
        return text
    return value


def entries_sql(query: Filter, placeholder: str, limit: int | None = None) -> tuple[str, list[Any]]:
    where, args = query.where(placeholder)
    sql = SELECT + where + " ORDER BY id"
    if limit is not None:
        sql, args = sql + f" LIMIT {placeholder}", [*args, int(limit)]
    return sql, args


def summary_sql(query: Filter, placeholder: str) -> tuple[str, list[Any]]:
    where, args = query.where(placeholder)
    where = (where + " AND" if where else " WHERE") + " permission_id IS NOT NULL"
    sql = (
        "SELECT permission_id,"
        " SUM(CASE WHEN outcome = 'signed' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END),"
        " MIN(at), MAX(at), COUNT(DISTINCT account), COUNT(DISTINCT session_key)"
        f" FROM audit{where} GROUP BY permission_id ORDER BY MIN(at)"
    )
    return sql, args
