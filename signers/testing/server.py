"""``signers serve`` processes for tests (needs the signers-server distribution): a real service on a free loopback
port, configured from a dict.

    factory = ServerFactory(folder)
    server = factory({"keys": {"dev": {"uri": "local:env:KEY"}}, "clients": {"app": {"keys": ["dev"]}}},
                     env={"KEY": "0x..."})
    server.result("eth_accounts", client="app")     # JSON-RPC as the client "app" (its token made here)
    factory.stop_all()

The factory fills in the port, the metrics port and an access log, gives every client without a
``token_hash`` (or ``cert_sha256``) a fresh token, writes the TOML file, starts ``python -m signers_server``
and waits until ``/upcheck`` answers. ``RunningServer``: ``.url``, ``.metrics_url``, ``.token(client)``,
``.rpc(...)``, ``.result(...)``, ``.rewrite_config(...)`` (for a reload), ``.stop()``.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .config import free_port


class ServerStartError(RuntimeError):
    """The service exited during start-up or did not answer in time; the message carries its stderr."""


def _auth() -> Any:
    import signers_server.auth as auth

    return auth


READY_TIMEOUT = 60.0


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    url: str
    metrics_url: str
    config_path: Path
    config: dict[str, Any]
    access_log: Path
    stderr_path: Path
    tokens: dict[str, str] = field(default_factory=dict)
    http_options: dict[str, Any] = field(default_factory=dict)  # httpx verify= / cert= for a TLS server

    def token(self, client: str) -> str:
        return self.tokens[client]

    def headers(self, client: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[client]}"} if client else {}

    def post(self, body: Any, client: str | None = None, **kwargs: Any) -> httpx.Response:
        """POST a JSON body (or raw bytes / text) to the JSON-RPC URL as ``client``."""
        content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = {"Content-Type": "application/json", **self.headers(client)}
        options = {"timeout": 60, **self.http_options, **kwargs}
        return httpx.post(self.url, content=content, headers=headers, **options)

    def rpc(self, method: str, params: Any = None, client: str | None = None) -> dict[str, Any]:
        """One call; the whole answer object (``result`` or ``error``)."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            body["params"] = params
        answer = self.post(body, client).json()
        assert isinstance(answer, dict), answer
        return answer

    def result(self, method: str, params: Any = None, client: str | None = None) -> Any:
        answer = self.rpc(method, params, client)
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def rewrite_config(self, config: dict[str, Any]) -> None:
        """Replace the config file (keeping port, logs and tokens) for a reload."""
        self.config = _complete(copy.deepcopy(config), self.tokens, self.config)
        self.config_path.write_text(_toml(self.config))

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line.strip()]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _complete(config: dict[str, Any], tokens: dict[str, str], previous: dict[str, Any] | None) -> dict[str, Any]:
    server = config.setdefault("server", {})
    if previous is not None:
        for name in ("host", "port", "access_log"):
            server.setdefault(name, previous["server"][name])
        config.setdefault("metrics", previous.get("metrics", {}))
    for name, client in config.get("clients", {}).items():
        if "token_hash" not in client and "cert_sha256" not in client:
            tokens.setdefault(name, _auth().new_token())
            client["token_hash"] = _auth().token_hash(tokens[name])
    return config


class ServerFactory:
    """Starts ``signers serve`` processes in ``directory`` and stops them all at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[RunningServer] = []

    def __call__(
        self,
        config: dict[str, Any],
        env: dict[str, str] | None = None,
        wait: bool = True,
        http_options: dict[str, Any] | None = None,
    ) -> RunningServer:
        directory = self.directory / f"server-{len(self.started)}"
        directory.mkdir(parents=True)
        config = copy.deepcopy(config)
        server = config.setdefault("server", {})
        server.setdefault("host", "127.0.0.1")
        server.setdefault("port", free_port())
        server.setdefault("access_log", str(directory / "access.jsonl"))
        config.setdefault("metrics", {}).setdefault("port", free_port())
        tokens: dict[str, str] = {}
        config = _complete(config, tokens, None)
        path = directory / "signers.toml"
        path.write_text(_toml(config))
        stderr_path = directory / "stderr.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "signers_server", "--config", str(path)],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=stderr_path.open("wb"),
        )
        scheme = "https" if "tls" in config else "http"
        running = RunningServer(
            process,
            f"{scheme}://127.0.0.1:{server['port']}/",
            f"http://127.0.0.1:{config['metrics']['port']}/metrics",
            path,
            config,
            Path(server["access_log"]),
            stderr_path,
            tokens,
            http_options or {},
        )
        self.started.append(running)
        if wait:
            wait_ready(running)
        return running

    def stop_all(self) -> None:
        for running in self.started:
            running.stop()


def wait_ready(running: RunningServer) -> None:
    """Poll /upcheck until it answers; fail with the server's stderr if the process exits first."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise ServerStartError(
                f"signers serve exited with {running.process.returncode}:\n{running.stderr_path.read_text()}"
            )
        try:
            if httpx.get(running.url + "upcheck", **{"timeout": 1, **running.http_options}).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling a readiness endpoint: there is no event to wait on across processes
    running.stop()
    raise ServerStartError(
        f"signers serve did not answer /upcheck within {READY_TIMEOUT} s:\n{running.stderr_path.read_text()}"
    )


def _toml(config: dict[str, Any]) -> str:
    import tomli_w

    return str(tomli_w.dumps(config))
