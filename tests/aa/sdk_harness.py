"""Runs tests/sdk/crosscheck.mjs (the real Startale SDK under Node, offline) on a batch of cases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

SDK_DIR = Path(__file__).resolve().parents[1] / "sdk"


def install() -> None:
    """tests/sdk/install (idempotent): npm ci of the pinned SDK, module-sdk and viem."""
    subprocess.run([str(SDK_DIR / "install")], check=True, timeout=600)


def run(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One Node process for the whole batch (start-up costs ~0.5 s); results in case order."""
    proc = subprocess.run(
        ["node", "crosscheck.mjs"],
        cwd=SDK_DIR,
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise AssertionError(f"crosscheck.mjs failed ({proc.returncode}):\n{proc.stderr}")
    results: list[dict[str, Any]] = json.loads(proc.stdout)["results"]
    assert len(results) == len(cases)
    for case, result in zip(cases, results, strict=True):
        assert "error" not in result, f"the SDK failed on a {case['kind']} case: {result['error']}\ncase: {case}"
    return results
