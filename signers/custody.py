"""One custody report for every backend, so a security team compares keys side by side.

``Backend.custody()`` returns a ``CustodyReport``: the common facts (where the key lives, whether it can
leave, whether hardware made it, its state, what a reviewer should know) plus the backend's own ``details``.
The report is also a read-only dict of those fields with the details beside them (``report["key_id"]``),
which is what ``signers custody --json`` prints and what earlier callers of ``custody()`` read. No field ever
holds a secret: backends build reports from identifiers, attributes and metadata only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, NoReturn

#: hsm: a hardware token or HSM the process reaches directly; cloud-kms: a cloud service's key manager;
#: software: a key in a file or in process memory (SoftHSM, local keys); unknown: the backend did not say
Kind = Literal["hsm", "cloud-kms", "software", "unknown"]
KINDS: tuple[Kind, ...] = ("hsm", "cloud-kms", "software", "unknown")
#: the columns of the side-by-side table, in order
COLUMNS = ("backend", "kind", "address", "extractable", "generated_in_hardware", "state", "warnings")

# the warnings the backends share, worded once so that reports compare
PROCESS_MEMORY = "the key lives in this process's memory: development and tests only"
SOFTWARE_HSM = "SoftHSM is a software token: the key is a file encrypted under the PIN, not hardware"
NOT_SIGN_ONLY = "{what} is allowed: the key is not sign-only"


def disabled(state: str) -> str:
    return f"the key is not enabled (state {state}): it cannot sign until it is enabled again"


def imported(how: str) -> str:
    return f"the key was imported ({how}): a copy of the private key existed outside this custody"


@dataclass(frozen=True, eq=False)
class CustodyReport(dict[str, Any]):
    """Where a key lives and what it allows. ``details`` holds what only this backend knows (never secrets);
    its names never shadow the common fields."""

    backend: str  # the backend's describe(): a URI without secrets
    kind: Kind
    custody: str  # the custody in words: "AWS KMS", "Google Cloud KMS", "PKCS#11 token ...", "process memory"
    address: str | None
    extractable: bool | None  # None: the custody does not say
    generated_in_hardware: bool | None
    state: str  # as the custody names it (Enabled, ENABLED, ...)
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        object.__setattr__(self, "warnings", tuple(self.warnings))
        common = {item.name: getattr(self, item.name) for item in fields(self) if item.name != "details"}
        clash = sorted(set(common) & set(self.details))
        if clash:
            raise ValueError(f"details may not shadow the common fields ({', '.join(clash)})")
        dict.update(self, {**common, "warnings": list(self.warnings), **self.details})

    @classmethod
    def of(cls, facts: Mapping[str, Any], *, address: str | None = None) -> CustodyReport:
        """A report from what a backend that predates reports returns (a plain mapping): the common fields it
        names are taken, the rest become details. ``address`` (the signer's) fills in a report without one."""
        if isinstance(facts, CustodyReport):
            return facts if address is None or facts.address is not None else cls._with_address(facts, address)
        names = {item.name for item in fields(cls)} - {"details"}
        common = {name: facts[name] for name in names & set(facts)}
        warning = facts.get("warning")
        return cls(
            backend=str(common.pop("backend", "")),
            kind=common["kind"] if common.get("kind") in KINDS else "unknown",
            custody=str(common.pop("custody", "not reported")),
            address=common.pop("address", address) or address,
            extractable=common.pop("extractable", None),
            generated_in_hardware=common.pop("generated_in_hardware", None),
            state=str(common.pop("state", "not reported")),
            warnings=tuple(common.pop("warnings", ())) + ((str(warning),) if warning else ()),
            details={key: value for key, value in facts.items() if key not in names | {"warning"}},
        )

    @classmethod
    def _with_address(cls, report: CustodyReport, address: str) -> CustodyReport:
        values = {item.name: getattr(report, item.name) for item in fields(cls)}
        return cls(**{**values, "address": address})

    def row(self) -> dict[str, str]:
        """The report's line in the side-by-side table."""
        shown = {
            "backend": self.backend,
            "kind": self.kind,
            "address": self.address or "-",
            "extractable": _yes_no(self.extractable),
            "generated_in_hardware": _yes_no(self.generated_in_hardware),
            "state": self.state,
            "warnings": str(len(self.warnings)),
        }
        return {column: shown[column] for column in COLUMNS}

    # read-only: a report is a value (its dict view is for JSON and for callers that read keys)
    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a CustodyReport is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), {item.name: getattr(self, item.name) for item in fields(self)}))

    def __eq__(self, other: object) -> bool:
        return dict.__eq__(self, other)

    __hash__ = None


def _rebuild(cls: type[CustodyReport], values: dict[str, Any]) -> CustodyReport:
    return cls(**values)


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def table(reports: list[CustodyReport]) -> list[str]:
    """Aligned lines: a header, one row per report, then each report's warnings under its number."""
    rows = [dict(zip(COLUMNS, COLUMNS, strict=True))] + [report.row() for report in reports]
    widths = {column: max(len(row[column]) for row in rows) for column in COLUMNS}
    lines = ["  ".join(row[column].ljust(widths[column]) for column in COLUMNS).rstrip() for row in rows]
    for number, report in enumerate(reports, 1):
        lines += [f"warning [{number}] {report.backend}: {text}" for text in report.warnings]
    return lines
