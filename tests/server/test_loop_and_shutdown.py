"""The service's event loop stays free, and SIGTERM waits only for requests in flight.

A signing request whose audit insert waits on a locked SQLite trail must not stall the other requests
(``/upcheck`` answers meanwhile); over TLS, an idle keep-alive connection must not hold a SIGTERM for the
whole ``drain_timeout``."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct

from .conftest import LOCAL_KEY, LOCAL_KEY_ENV, LOCAL_KEY_URI
from .test_tls import pki  # noqa: F401  (the throwaway CA and the server's certificate)

ADDRESS = Account.from_key(LOCAL_KEY).address


def _in_flight(server) -> float:
    match = re.search(r"^signers_in_flight ([0-9.]+)$", httpx.get(server.metrics_url).text, re.MULTILINE)
    assert match is not None
    return float(match.group(1))


def _wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)  # polling another process's state: there is no event to wait on


def test_a_slow_audit_trail_holds_only_its_request(signers_server, tmp_path: Path) -> None:
    trail = tmp_path / "audit.sqlite"
    server = signers_server(
        {
            "server": {"chain_id": 31337, "audit_db": f"sqlite:///{trail}?timeout=60"},
            "keys": {"dev": {"uri": LOCAL_KEY_URI}},
            "clients": {"app": {"keys": ["dev"]}},
        },
        env=LOCAL_KEY_ENV,
    )
    assert server.result("personal_sign", ["0x01", ADDRESS], "app")  # the trail exists and is migrated
    blocker = sqlite3.connect(trail, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # hold the write lock: the service's insert now waits for it
    results: list = []
    thread = threading.Thread(target=lambda: results.append(server.rpc("personal_sign", ["0x5a", ADDRESS], "app")))
    try:
        thread.start()
        _wait_until(lambda: _in_flight(server) == 1)
        # the signing request waits on the trail; the loop still answers others
        assert httpx.get(server.url + "upcheck", timeout=5).text == "OK"
        assert server.result("eth_accounts", [], "app") == [ADDRESS]
        assert thread.is_alive() and not results
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    thread.join(60)
    (answer,) = results
    assert Account.recover_message(encode_defunct(b"Z"), signature=answer["result"]) == ADDRESS


def test_sigterm_over_tls_does_not_wait_for_an_idle_connection(signers_server, pki) -> None:  # noqa: F811
    server = signers_server(
        {
            "server": {"chain_id": 31337},
            "tls": {"cert": pki["server"][0], "key": pki["server"][1]},
            "limits": {"drain_timeout": 120.0},
            "keys": {"dev": {"uri": LOCAL_KEY_URI}},
            "clients": {"app": {"keys": ["dev"]}},
        },
        env=LOCAL_KEY_ENV,
        http_options={"verify": pki["ca"]},
    )
    with httpx.Client(verify=pki["ca"]) as client:
        assert client.get(server.url + "upcheck").text == "OK"  # the connection stays open, idle (keep-alive)
        server.process.terminate()  # SIGTERM
        # far below drain_timeout: nothing is in flight, so the service closes the idle connection and exits
        assert server.process.wait(15) in (0, -15)
    assert "backends closed" in server.stderr_path.read_text()


def test_a_timed_out_call_is_recorded_as_signed_but_never_delivered(signers_server, tmp_path: Path) -> None:
    """What the README's "records without a delivered signature" says: the caller gets the timeout error,
    the access log an error, and the trail a `signed` record once the pool's call finishes."""
    from signers.audit import AuditTrail

    trail_path = tmp_path / "audit.sqlite"
    server = signers_server(
        {
            "server": {"chain_id": 31337, "audit_db": f"sqlite:///{trail_path}?timeout=60"},
            "limits": {"request_timeout": 1.0},
            "keys": {"dev": {"uri": LOCAL_KEY_URI}},
            "clients": {"app": {"keys": ["dev"]}},
        },
        env=LOCAL_KEY_ENV,
    )
    assert server.result("personal_sign", ["0x01", ADDRESS], "app")  # the trail exists and is migrated
    blocker = sqlite3.connect(trail_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the signature is made, its record waits past the request's timeout
    try:
        answer = server.rpc("personal_sign", ["0x5a", ADDRESS], "app")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert answer["error"]["code"] == -32603 and "timed out" in answer["error"]["message"]
    assert [line["outcome"] for line in server.log_lines()][-1] == "error"
    trail = AuditTrail(str(trail_path))
    try:
        _wait_until(lambda: len(trail.entries(outcome="signed", client="app")) == 2)
        record = trail.entries(outcome="signed", client="app")[-1]
    finally:
        trail.close()
    digest = _hash_eip191_message(encode_defunct(b"Z"))  # eth-account's hash of the message, not ours
    assert bytes.fromhex(record.digest.removeprefix("0x")) == digest
    assert record.signature is not None
    assert Account._recover_hash(digest, signature=bytes.fromhex(record.signature.removeprefix("0x"))) == ADDRESS
