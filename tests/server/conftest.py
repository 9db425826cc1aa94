"""Fixtures of the service tests: a real ``signers serve`` process (uvicorn) on a free loopback port.

``signers_server(config)`` takes the TOML configuration as a dict (``[server]``, ``[keys.NAME]``,
``[clients.NAME]``...), gives every client without a ``token_hash`` a fresh token, fills in the port, the
metrics port and an access log, writes the file, starts the process and waits until ``/upcheck`` answers.
It returns a ``RunningServer``: ``.url``, ``.metrics_url``, ``.token(client)``, ``.rpc(...)``, ``.stop()``.
Every process still running is stopped (SIGTERM, then SIGKILL) at the end of the test.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from signers_server.auth import new_token, token_hash

from tests.e2e.conftest import chain, counter  # noqa: F401  (the end-to-end chain fixtures, for test_chain.py)

READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        self.config_path.write_text(tomli_w.dumps(self.config))

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
            tokens.setdefault(name, new_token())
            client["token_hash"] = token_hash(tokens[name])
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
        path.write_text(tomli_w.dumps(config))
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


@pytest.fixture
def signers_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """``signers_server(config_dict, env=None)`` -> a running server for this test."""
    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """The same factory, for servers that a whole test module shares (starting one takes ~2 s)."""
    factory = ServerFactory(tmp_path_factory.mktemp("signers-serve"))
    try:
        yield factory
    finally:
        factory.stop_all()


def wait_ready(running: RunningServer) -> None:
    """Poll /upcheck until it answers; fail with the server's stderr if the process exits first."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            pytest.fail(f"signers serve exited with {running.process.returncode}:\n{running.stderr_path.read_text()}")
        try:
            if httpx.get(running.url + "upcheck", **{"timeout": 1, **running.http_options}).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling a readiness endpoint: there is no event to wait on across processes
    running.stop()
    pytest.fail(f"signers serve did not answer /upcheck within {READY_TIMEOUT} s:\n{running.stderr_path.read_text()}")


LOCAL_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"  # eth-account's docs key
LOCAL_KEY_ENV = {"SIGNERS_TEST_SERVER_KEY": LOCAL_KEY}  # pass as env= to a server
LOCAL_KEY_URI = "local:env:SIGNERS_TEST_SERVER_KEY"


@pytest.fixture
def local_key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """A local: key for the server process (the variable is inherited); returns its URI."""
    monkeypatch.setenv("SIGNERS_TEST_SERVER_KEY", LOCAL_KEY)
    return LOCAL_KEY_URI
