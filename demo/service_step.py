"""The demo's service step: a TypeScript app (viem, under Node) uses the HSM session key through `signers serve`.

The service holds the key (the same SoftHSM token) and the grant; the app holds only a client token. The app
builds the op with viem, its account's ``signUserOperation`` calls ``signers_signUserOperation``
(plugins/server/examples/viem-session-account.ts, compiled by tsc), the service runs the scope check on the
whole op and signs in the HSM, and Alto lands it. An out-of-scope op from the same app gets 4001 and no
signature. The service writes to the demo's audit trail, so the last step matches its signature with the chain.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from demo.onchain import INCREMENT, SET_NUMBER
from demo.report import DemoFailure
from signers.aa import NexusAccount, Session, split_nonce

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "tests" / "server" / "js"  # the pinned viem, installed by tests/server/js/install (make services)
CLIENT = "ts-app"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoFailure(f"signers serve exited ({process.returncode}): {log.read_text()[-1500:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/upcheck")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)  # polling a readiness endpoint: there is no event to wait on across processes
    raise DemoFailure(f"signers serve did not answer /upcheck within 60 s: {log.read_text()[-1500:]}")


def _start_service(
    cleanup: contextlib.ExitStack, state: Path, config: dict[str, Any]
) -> tuple[int, subprocess.Popen[bytes]]:
    import tomli_w

    port = _free_port()
    config["server"]["port"] = port
    config["metrics"] = {"port": _free_port()}
    path = state / "signers.toml"
    path.write_text(tomli_w.dumps(config))
    log = state / "serve.stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "signers_server", "--config", str(path)], stderr=stderr)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    cleanup.callback(stop)
    _wait_ready(process, port, log)
    return port, process


def _node(script: str, job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        ["node", script], cwd=JS, input=json.dumps(job), capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise DemoFailure(f"node {script} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def viem_through_service(
    demo: Any,
    account: NexusAccount,
    session_uri: str,
    session_address: str,
    session: Session,
    permission_id: bytes,
    counter: str,
    deployment: dict[str, Any],
    audit_path: Path,
    cleanup: contextlib.ExitStack,
) -> None:
    from signers_server.auth import new_token, token_hash

    r, chain = demo.report, demo.chain
    state = audit_path.parent / "serve"
    state.mkdir(exist_ok=True)
    for stale in state.glob("*"):
        stale.unlink()
    if not (JS / "node_modules" / "viem").is_dir():
        raise DemoFailure("viem is not installed in tests/server/js: run `make services` (or tests/server/js/install)")
    demo.progress("compiling the TypeScript example account (tsc) ...")
    compiled = subprocess.run(
        [str(JS / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"],
        cwd=JS, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if compiled.returncode != 0:
        raise DemoFailure(f"tsc failed on plugins/server/examples/viem-session-account.ts: {compiled.stdout[-2000:]}")

    token = new_token()  # the app's credential: in its environment only; the config holds its hash
    config: dict[str, Any] = {
        "server": {
            "chain_id": chain.chain_id,
            "upstream": deployment["rpc_url"],
            "access_log": str(state / "access.jsonl"),
            "audit_db": str(audit_path),
        },
        "keys": {"session-key-2": {"uri": session_uri}},
        "clients": {CLIENT: {"keys": ["session-key-2"], "token_hash": token_hash(token)}},
        "sessions": [{"session": session.to_dict(), "account": account.address}],
        "addresses": {str(chain.chain_id): asdict(chain.book)},
    }
    demo.progress("starting signers serve with session key 2 (HSM) ...")
    port, process = _start_service(cleanup, state, config)
    url = f"http://127.0.0.1:{port}/"
    r.fact("service", f"signers serve at {url} (pid {process.pid}), key session-key-2 in the HSM")
    r.fact("client", f"{CLIENT!r}: a bearer token; the config holds only its hash (sha256:...)")
    r.fact("app", "Node + viem 2: createBundlerClient with the account of plugins/server/examples/"
           "viem-session-account.ts")  # fmt: skip

    before = chain.counter_value(counter)
    demo.progress("the viem app sends a session op; the service signs it in the HSM ...")
    out = _node(
        "session_op.mjs",
        {
            "service": {"url": url, "token": token, "address": session_address},
            "rpcUrl": deployment["rpc_url"],
            "bundlerUrl": deployment["bundler_url"],
            "chainId": chain.chain_id,
            "account": account.address,
            "permissionId": "0x" + permission_id.hex(),
            "smartSessions": chain.book.smart_sessions,
            "target": counter,
            "inScopeData": "0x" + INCREMENT.hex(),
            "outOfScopeData": "0x" + (SET_NUMBER + (42).to_bytes(32, "big")).hex(),
        },
    )
    _, _, validator, sequence = split_nonce(int(out["nonce"], 16))
    r.fact("userOpHash", out["userOpHash"])
    r.fact("transaction", out["transactionHash"])
    r.fact("nonce", f"validator {demo.name(validator)}, sequence {sequence}")
    r.check(out["success"] is True, "the op built by viem and signed by the service succeeded on chain")
    r.check(chain.counter_value(counter) == before + 1, f"Counter.number() went {before} -> {before + 1}")
    refusal = out["refusal"]
    r.fact("out of scope", f"setNumber(42): JSON-RPC error {refusal['code']}")
    r.fact("  service said", refusal["message"][:200])
    r.check(
        refusal["code"] == 4001 and refusal["signed"] is None,
        "the out-of-scope op got 4001 (viem: UserRejectedRequestError) and no signature",
    )
    log = (state / "access.jsonl").read_text()
    r.check(token not in log, "the access log never holds the app's token")
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    calls = [
        (line.get("method"), line.get("outcome")) for line in lines if line.get("method", "").startswith("signers_")
    ]
    r.fact("access log", ", ".join(f"{m} {o}" for m, o in calls))
    entries = [e for e in demo.trail.entries() if e.client == CLIENT]
    r.check(
        [e.outcome for e in entries] == ["signed", "refused"],
        f"the audit trail holds the service's signature and its refusal, each with client {CLIENT!r}",
    )
