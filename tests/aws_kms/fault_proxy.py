"""A loopback HTTP proxy between boto3 and LocalStack that injects real faults into chosen KMS operations.

boto3 talks to the proxy as its ``endpoint-url``; the proxy forwards to LocalStack unless a fault is queued
for the operation (from the ``X-Amz-Target`` header, e.g. ``TrentService.Sign``):

    "throttle"       400 ThrottlingException, as KMS sends when the account's request quota is exceeded
    "500"            500 KMSInternalException (JSON)
    "502"            502 with an HTML body, as a load balancer would send
    "drop"           close the connection without answering (nothing reached KMS)
    "empty-200"      200 with an empty JSON body, as LocalStack can answer while it shuts down
    "lose-response"  forward to LocalStack (KMS signs), then close without answering: the signature is lost
    "strip-key-id"   forward, then remove KeyId from the response (a service that does not say which key)
    ("delay", s)     hold the request s seconds, then forward

Faults are queued per operation and consumed in order; ``always`` applies one to every request. Every
request is recorded (operation, fault) so a test can count attempts.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Fault = str | tuple[str, float]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te", "upgrade"}


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = defaultdict(deque)
        self._always: dict[str, Fault] = {}
        self.requests: list[tuple[str, str | None]] = []  # (operation, fault name or None)
        self._release = threading.Event()  # set at stop: ends every pending delay at once
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="kms-fault-proxy", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def inject(self, operation: str, *faults: Fault) -> None:
        with self._lock:
            self._queues[operation].extend(faults)

    def always(self, operation: str, fault: Fault | None) -> None:
        with self._lock:
            if fault is None:
                self._always.pop(operation, None)
            else:
                self._always[operation] = fault

    def count(self, operation: str, fault: str | None | bool = True) -> int:
        """Requests seen for ``operation``; with a fault name, only those that got that fault."""
        with self._lock:
            return sum(1 for op, f in self.requests if op == operation and (fault is True or f == fault))

    def _next_fault(self, operation: str) -> Fault | None:
        with self._lock:
            queue = self._queues[operation]
            fault = queue.popleft() if queue else self._always.get(operation)
            self.requests.append((operation, _name(fault)))
            return fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                self._forward(b"", None)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                fault = proxy._next_fault(operation)
                name = _name(fault)
                if name == "throttle":
                    self._reply(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
                elif name == "500":
                    self._reply(500, {"__type": "KMSInternalException", "message": "injected internal error"})
                elif name == "502":
                    self._reply(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                elif name == "empty-200":
                    self._reply(200, {})
                elif name == "drop":
                    self._drop()
                elif name == "lose-response":
                    self._upstream(body)  # KMS did the work...
                    self._drop()  # ...and the answer never arrives
                else:
                    if isinstance(fault, tuple) and fault[0] == "delay":
                        proxy._release.wait(fault[1])
                    self._forward(body, name)

            def _upstream(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                connection = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
                    connection.close()

            def _forward(self, body: bytes, fault: str | None) -> None:
                try:
                    status, headers, payload = self._upstream(body)
                except OSError:
                    self._reply(502, b"upstream unreachable", "text/plain")
                    return
                if fault == "strip-key-id" and status == 200:
                    document = json.loads(payload)
                    document.pop("KeyId", None)
                    payload = json.dumps(document).encode()
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _reply(
                self, status: int, body: dict[str, str] | bytes, content_type: str = "application/x-amz-json-1.1"
            ) -> None:
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _drop(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client may already have gone
                    self.connection.shutdown(socket.SHUT_RDWR)

        return Handler


def _name(fault: Fault | None) -> str | None:
    if fault is None:
        return None
    return fault if isinstance(fault, str) else fault[0]
