"""The access log: one JSON object per line and per JSON-RPC call (client, method, key, outcome, duration).

It never holds a token, PIN or payload: what was signed appears only as the digest's hash when the caller
needs to correlate it with the audit trail, which holds the details."""

from __future__ import annotations

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

    def write(self, **fields: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), **fields}, separators=(",", ":"), default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._owned:
            self._stream.close()
