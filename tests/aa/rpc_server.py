"""A tiny real JSON-RPC server on 127.0.0.1 for the client tests: each test scripts its answers.

``answer(method, params)`` returns what to send: a ``Reply`` (status + raw body), or a value that becomes
``{"result": value}``, or raises ``RpcFault`` to send a JSON-RPC error object.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


class RpcFault(Exception):
    def __init__(self, code: Any, message: str, data: Any = None) -> None:
        self.code, self.message, self.data = code, message, data


Answer = Callable[[str, list[Any]], Any]


class Server:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(request)
                try:
                    out = server.answer(request["method"], request.get("params", []))
                    reply = (
                        out
                        if isinstance(out, Reply)
                        else Reply(200, json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": out}).encode())
                    )
                except RpcFault as fault:
                    error: dict[str, Any] = {"code": fault.code, "message": fault.message}
                    if fault.data is not None:
                        error["data"] = fault.data
                    reply = Reply(200, json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode())
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except ConnectionError:  # the client gave up first (the timeout tests): nobody to answer
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/rpc"
        # a short poll interval: shutdown() waits up to one interval
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def methods(self) -> list[str]:
        return [r["method"] for r in self.requests]


@contextmanager
def serve(answer: Answer) -> Iterator[Server]:
    server = Server(answer)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
