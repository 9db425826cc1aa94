"""The services' own child processes: each runs in a process group of its own (``start_new_session=True``), is
waited on by a readiness check, and is stopped by signalling its group (so what it spawned stops too).
Standard library only, like signers.testing.config.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file (for an error message)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_ready(
    ready: Callable[[], bool],
    what: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
    error: type[RuntimeError] = RuntimeError,
) -> None:
    """Polls ``ready()`` until it is true; ``error`` (with the log's last lines) if ``process`` exits first or
    ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not ready():
        if process.poll() is not None:
            raise error(f"{what} exited with code {process.returncode}; last lines of {log}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise error(f"{what} not ready after {timeout:.0f} s; last lines of {log}:\n{tail(log)}")
        time.sleep(delay)  # readiness poll of a child process: there is no event to wait on across processes
        delay = min(delay * 1.5, 0.25)


def group_alive(pgid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)  # reap the leader if it is our child, so a zombie is not counted as alive
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGTERM to the group, then SIGKILL if it still runs after ``timeout`` s (a graceful shutdown can hang on
    in-flight requests under load)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for our own processes to exit
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
