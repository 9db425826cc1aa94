"""Issue 15 item 10: ``signers gcp-kms emulator --port 99999`` refused instead of listening on a random port
(0 still means "any free port", as documented; the session fixture starts the emulator that way)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SIGNERS = str(Path(sys.executable).with_name("signers"))


@pytest.mark.parametrize("port", ["99999", "-1"])
@pytest.mark.parametrize(
    "command", [[SIGNERS, "gcp-kms", "emulator"], [sys.executable, "-m", "signers_gcp_kms.emulator"]], ids=["cli", "m"]
)
def test_an_out_of_range_port_is_refused(command: list[str], port: str) -> None:
    # a refusal returns at once; an emulator that started instead would run until the timeout fails the test
    result = subprocess.run([*command, "--port", port], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--port must be 0 (any free port) or from 1 to 65535" in result.stderr
    assert "listening" not in result.stdout
