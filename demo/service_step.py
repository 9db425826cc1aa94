"""The demo's service step: a TypeScript app (viem, under Node) uses the HSM session key through `signers serve`.

The service holds the key (the same SoftHSM token) and the grant; the app holds only a client token. The app
builds the op with viem, its account's ``signUserOperation`` calls ``signers_signUserOperation``
(plugins/server/examples/viem-session-account.ts, compiled by tsc), the service runs the scope check on the
whole op and signs in the HSM, and Alto lands it. An out-of-scope op from the same app gets 4001 and no
signature. The service writes to the demo's audit trail, so the last step matches its signature with the chain.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demo.onchain import INCREMENT, SET_NUMBER, Chain
from demo.report import DemoFailure
from signers.aa import NexusAccount, Session, split_nonce

if TYPE_CHECKING:
    from signers.testing.server import RunningServer

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "tests" / "server" / "js"  # the pinned viem, installed by tests/server/js/install (make services)
CLIENT = "ts-app"


def _start_service(cleanup: contextlib.ExitStack, state: Path, config: dict[str, Any]) -> RunningServer:
    """``signers serve`` through signers.testing.server (free ports, a fresh token per client, /upcheck)."""
    from signers.testing.server import ServerFactory, ServerStartError

    factory = ServerFactory(state)
    cleanup.callback(factory.stop_all)
    try:
        return factory(config)
    except ServerStartError as exc:
        raise DemoFailure(str(exc)) from None


def session_op_job(
    service: RunningServer,
    client: str,
    session_address: str,
    chain: Chain,
    account: str,
    permission_id: bytes,
    counter: str,
) -> dict[str, Any]:
    """The input of tests/server/js/session_op.mjs: from ``account``, under ``permission_id``, an in-scope
    ``increment()`` of ``counter`` then an out-of-scope ``setNumber(42)``, both to be signed by ``service`` as
    ``client`` with the session key at ``session_address``."""
    return {
        "service": {"url": service.url, "token": service.token(client), "address": session_address},
        "rpcUrl": chain.node.url,
        "bundlerUrl": chain.bundler.rpc.url,
        "chainId": chain.chain_id,
        "account": account,
        "permissionId": "0x" + permission_id.hex(),
        "smartSessions": chain.book.smart_sessions,
        "target": counter,
        "inScopeData": "0x" + INCREMENT.hex(),
        "outOfScopeData": "0x" + (SET_NUMBER + (42).to_bytes(32, "big")).hex(),
    }


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
    r, chain = demo.report, demo.chain
    state = audit_path.parent / "serve"
    shutil.rmtree(state, ignore_errors=True)  # a previous run's config, logs and server folders
    state.mkdir()
    if not (JS / "node_modules" / "viem").is_dir():
        raise DemoFailure("viem is not installed in tests/server/js: run `make services` (or tests/server/js/install)")
    demo.progress("compiling the TypeScript example account (tsc) ...")
    compiled = subprocess.run(
        [str(JS / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"],
        cwd=JS, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if compiled.returncode != 0:
        raise DemoFailure(f"tsc failed on plugins/server/examples/viem-session-account.ts: {compiled.stdout[-2000:]}")

    config: dict[str, Any] = {
        "server": {"chain_id": chain.chain_id, "upstream": deployment["rpc_url"], "audit_db": str(audit_path)},
        "keys": {"session-key-2": {"uri": session_uri}},
        # no token_hash: the factory makes the app's credential, which stays in this process and the app's job
        "clients": {CLIENT: {"keys": ["session-key-2"]}},
        "sessions": [{"session": session.to_dict(), "account": account.address}],
        "addresses": {str(chain.chain_id): asdict(chain.book)},
    }
    demo.progress("starting signers serve with session key 2 (HSM) ...")
    server = _start_service(cleanup, state, config)
    token = server.token(CLIENT)
    r.fact("service", f"signers serve at {server.url} (pid {server.process.pid}), key session-key-2 in the HSM")
    r.fact("client", f"{CLIENT!r}: a bearer token; the config holds only its hash (sha256:...)")
    r.fact("app", "Node + viem 2: createBundlerClient with the account of plugins/server/examples/"
           "viem-session-account.ts")  # fmt: skip

    before = chain.counter_value(counter)
    demo.progress("the viem app sends a session op; the service signs it in the HSM ...")
    out = _node(
        "session_op.mjs",
        session_op_job(server, CLIENT, session_address, chain, account.address, permission_id, counter),
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
    r.check(token not in server.access_log.read_text(), "the access log never holds the app's token")
    lines = server.log_lines()
    calls = [
        (line.get("method"), line.get("outcome")) for line in lines if line.get("method", "").startswith("signers_")
    ]
    r.fact("access log", ", ".join(f"{m} {o}" for m, o in calls))
    entries = [e for e in demo.trail.entries() if e.client == CLIENT]
    r.check(
        [e.outcome for e in entries] == ["signed", "refused"],
        f"the audit trail holds the service's signature and its refusal, each with client {CLIENT!r}",
    )
