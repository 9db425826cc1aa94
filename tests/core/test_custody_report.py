"""The one custody report (signers.custody.CustodyReport): the local key's, a backend that predates reports,
the value's rules, and `signers custody A B ...` side by side (a subprocess, as a user runs it)."""

from __future__ import annotations

import json
import os
import pickle
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import coincurve
import pytest
from eth_account import Account

import signers
from signers.backend import Backend
from signers.custody import PROCESS_MEMORY, CustodyReport
from signers.keys import PublicKey

KEYS = {"CUSTODY_A": "0x" + secrets.token_hex(32), "CUSTODY_B": "0x" + secrets.token_hex(32)}
SIGNERS = str(Path(sys.executable).with_name("signers"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SIGNERS, *args], capture_output=True, text=True, env={**os.environ, **KEYS}, timeout=60, check=False
    )


def test_the_local_key_reports_process_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTODY_A", KEYS["CUSTODY_A"])
    with signers.load_signer("local:env:CUSTODY_A") as signer:
        report = signer.backend.custody()
    assert isinstance(report, CustodyReport)
    assert report.address == Account.from_key(KEYS["CUSTODY_A"]).address
    assert (report.kind, report.extractable, report.generated_in_hardware) == ("software", True, False)
    assert report.warnings == (PROCESS_MEMORY,)
    assert report["custody"] == "process memory" and report["source"].startswith("an environment variable")
    assert KEYS["CUSTODY_A"][2:] not in json.dumps(report)


def test_a_report_is_a_read_only_value() -> None:
    report = CustodyReport(
        backend="x:1", kind="hsm", custody="a token", address=None, extractable=False,
        generated_in_hardware=True, state="enabled", warnings=["w"], details={"serial": "01"},
    )  # fmt: skip
    assert json.loads(json.dumps(report)) == {
        "backend": "x:1", "kind": "hsm", "custody": "a token", "address": None, "extractable": False,
        "generated_in_hardware": True, "state": "enabled", "warnings": ["w"], "serial": "01",
    }  # fmt: skip
    assert pickle.loads(pickle.dumps(report)) == report  # noqa: S301 (our own bytes)
    assert report.warnings == ("w",)
    with pytest.raises(TypeError, match="read-only"):
        report["state"] = "disabled"
    with pytest.raises(ValueError, match="shadow"):
        CustodyReport("x:1", "hsm", "t", None, False, True, "enabled", details={"state": "other"})
    with pytest.raises(ValueError, match="kind"):
        CustodyReport("x:1", "vault", "t", None, False, True, "enabled")  # type: ignore[arg-type]


class _Legacy(Backend):
    """A third-party backend written before reports: custody() returns a plain dict."""

    signature_format = "rs"

    def public_key(self) -> PublicKey:
        return PublicKey(coincurve.PrivateKey.from_int(1).public_key.format(compressed=False))

    def sign(self, digest: bytes) -> bytes:
        raise NotImplementedError

    def describe(self) -> str:
        return "legacy:1"

    def custody(self) -> dict[str, Any]:
        return {"backend": "legacy:1", "custody": "a vault", "warning": "old style", "vault": "v1"}


def test_a_plain_mapping_becomes_a_report() -> None:
    backend = _Legacy()
    report = CustodyReport.of(backend.custody(), address=backend.public_key().address)
    assert report.kind == "unknown" and report.custody == "a vault" and report.warnings == ("old style",)
    assert report.address == backend.public_key().address and report.details == {"vault": "v1"}
    default = Backend.custody(backend)  # the base class's default: which backend, nothing more
    assert isinstance(default, CustodyReport) and default.backend == "legacy:1" and default.kind == "unknown"


def test_several_uris_side_by_side() -> None:
    uris = ["local:env:CUSTODY_A", "local:env:CUSTODY_B"]
    out = run("custody", *uris, "--json")
    assert out.returncode == 0, out.stderr
    reports = json.loads(out.stdout)
    assert [r["address"] for r in reports] == [Account.from_key(KEYS[n]).address for n in ("CUSTODY_A", "CUSTODY_B")]
    assert {r["kind"] for r in reports} == {"software"} and all(r["warnings"] == [PROCESS_MEMORY] for r in reports)
    table = run("custody", *uris)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "backend",
        "kind",
        "address",
        "extractable",
        "generated_in_hardware",
        "state",
        "warnings",
    ]
    assert lines[1].split()[:5] == ["local:env:CUSTODY_A", "software", reports[0]["address"], "yes", "no"]
    assert f"warning [2] local:env:CUSTODY_B: {PROCESS_MEMORY}" in lines
    assert all(key[2:] not in table.stdout + out.stdout for key in KEYS.values())


def test_one_bad_uri_fails_the_command() -> None:
    out = run("custody", "local:env:CUSTODY_A", "local:env:CUSTODY_NOT_SET")
    assert out.returncode == 1 and out.stdout == "" and out.stderr.splitlines()[-1].startswith("error: ")
