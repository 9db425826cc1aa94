"""The access log: one JSON object per line and per JSON-RPC call (client, method, key, outcome, duration).

It never holds a token, PIN or payload: what was signed appears only as the digest's hash when the caller
needs to correlate it with the audit trail, which holds the details.

Lines written on the event loop are written out together once per loop iteration (``call_soon``): under load
many calls finish in one iteration, and a write (a system call) per line would cost the loop a GIL hand-off
to the signing threads each time. A line waits for nothing else, and ``close`` writes out what is left.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import IO, Any

from .readers import ConfigError


class AccessLog:
    def __init__(self, target: str) -> None:
        self._lock = threading.Lock()
        try:
            self._stream: IO[str] = sys.stderr if target == "-" else open(target, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"server.access_log: cannot open {target} ({exc.strerror})") from None
        self._owned = target != "-"
        self._pending: list[str] = []

    def write(self, **fields: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), **fields}, separators=(",", ":"), default=str)
        with self._lock:
            self._pending.append(line)
            if len(self._pending) > 1:  # a write-out is already scheduled
                return
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # not on the loop: write it now
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._pending = self._pending, []
            if lines:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()

    def close(self) -> None:
        self.flush()
        if self._owned:
            self._stream.close()
