"""Incident response on the local chain stack: how long each step of the README's runbook takes.

    .venv/bin/python bench/bench_incident.py

It starts what it needs (a private SoftHSM token under .state/bench-incident/, LocalStack, the chain stack: see
demo/services.py), reusing a LocalStack or chain stack that already runs, and stops what it started. Each round:
a fresh account (owner key in AWS KMS on LocalStack), a session key in SoftHSM holding three permissions, a few ops,
then the runbook's steps, timed (medians over ROUNDS rounds):

- ``SessionManager.revoke(session_key=K)``: until the key is refused locally (the registry told, before any op is
  built), and until the removal op (one batch of three removeSession calls) is included;
- the same through the CLI, ``signers sessions revoke --session-key K`` in a new process (Python start-up, loading
  the owner key, reading the chain, the op, its receipt);
- ``signers sessions list`` in a new process;
- ``SessionManager.rotate``: a new key generated in SoftHSM, the grant op, a test op under the new key, the old
  permission removed.

Inclusion is Alto's bundling loop on anvil (see bench_e2e.py): on a public chain the removal lands in a block or two.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, print_table, progress  # noqa: E402

GROUP = "incident"
ROUNDS = 5
CLI_ROUNDS = 3
PIN_ENV = "SIGNERS_BENCH_INCIDENT_PKCS11_PIN"


_progress = progress("bench_incident")


def run() -> list[Row]:
    from demo.services import start_chain, start_localstack, start_softhsm

    with contextlib.ExitStack() as services:
        token = start_softhsm(services, ROOT / ".state" / "bench-incident" / "softhsm", "bench-incident", PIN_ENV)
        kms = start_localstack(services, _progress)
        deployment, _ = start_chain(services, _progress)
        return _measure(token, kms, deployment)


def _measure(token: Any, kms: Any, deployment: dict[str, Any]) -> list[Row]:
    import signers
    from demo.onchain import INCREMENT, Chain
    from signers.aa import (
        SCOPES,
        ActionPolicyInfo,
        Call,
        CreateSessionDataParams,
        SessionManager,
        grant_permission,
        install_smart_sessions,
        send_session_user_operation,
    )
    from signers.testing.localstack import AWS_TEST_ENV

    refused_at = [0.0]
    revoke_key = SCOPES.revoke_key

    def timed_revoke_key(session_key: str) -> None:  # when the process-wide registry starts refusing the key
        revoke_key(session_key)
        refused_at[0] = time.perf_counter()

    SCOPES.revoke_key = timed_revoke_key  # type: ignore[method-assign]

    chain = Chain.from_deployment(deployment, funder_index=2)
    timings: dict[str, list[float]] = {"local": [], "landed": [], "cli": [], "list": [], "rotate": []}
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(chain.close)
        kms_key = kms.create_key(description="signers bench_incident owner")
        key_id, owner_uri = kms_key.key_id, kms_key.uri
        cleanup.callback(kms.client().schedule_key_deletion, KeyId=key_id, PendingWindowInDays=7)
        owner = cleanup.enter_context(signers.load_signer(owner_uri))
        counter = chain.deploy_counter()
        env = {**os.environ, **AWS_TEST_ENV}  # the CLI's process reaches LocalStack and the SoftHSM token too

        def prepared(salt: int) -> tuple[Any, Any, list[bytes]]:
            account = chain.new_account(owner.address, salt=salt)
            chain.fund(account.address, 10**18)
            install_smart_sessions(account, owner, chain.bundler)
            key = cleanup.enter_context(signers.load_signer(token.generate_key(prefix="incident")))
            params = [CreateSessionDataParams(key.address, [ActionPolicyInfo(counter, INCREMENT)]) for _ in range(3)]
            pids = list(grant_permission(account, owner, chain.bundler, params).permission_ids)
            for pid in pids:
                send_session_user_operation(account, key, chain.bundler, pid, [Call(counter, 0, INCREMENT)])
            return account, key, pids

        base = int.from_bytes(os.urandom(3), "big") << 8
        for round_ in range(ROUNDS):
            _progress(f"round {round_ + 1}/{ROUNDS}: revoke by key (API), rotate")
            account, key, pids = prepared(base + 2 * round_)
            manager = SessionManager(account, owner=owner, bundler=chain.bundler)
            began = time.perf_counter()
            result = manager.revoke(session_key=key.address)
            ended = time.perf_counter()
            assert result.receipt is not None and result.receipt["success"] is True and len(result.permission_ids) == 3
            assert not any(account.is_permission_enabled(p) for p in pids)
            timings["local"].append(refused_at[0] - began)
            timings["landed"].append(ended - began)

            account, key, pids = prepared(base + 2 * round_ + 1)
            manager = SessionManager(account, owner=owner, bundler=chain.bundler)
            began = time.perf_counter()
            rotated = manager.rotate(pids[0], current_key=key, valid_for=3600, test_calls=[Call(counter, 0, INCREMENT)])
            timings["rotate"].append(time.perf_counter() - began)
            assert rotated.revoke is not None and not account.is_permission_enabled(pids[0])

        cli = [str(Path(sys.executable).parent / "signers")]
        for round_ in range(CLI_ROUNDS):
            _progress(f"CLI round {round_ + 1}/{CLI_ROUNDS}: signers sessions list / revoke")
            account, key, pids = prepared(base + 100 + round_)
            common = ["--rpc-url", chain.node.url, "--account", account.address, "--owner-validator",
                      account.owner_validator]  # fmt: skip
            began = time.perf_counter()
            listed = subprocess.run([*cli, "sessions", "list", *common, "--json"], env=env, capture_output=True,
                                    text=True, check=True)  # fmt: skip
            timings["list"].append(time.perf_counter() - began)
            assert listed.stdout.count('"enabled": true') == 3
            began = time.perf_counter()
            subprocess.run([*cli, "sessions", "revoke", *common, "--bundler-url", chain.bundler.rpc.url, "--owner",
                            owner_uri, "--session-key", key.address], env=env, capture_output=True, text=True,
                           check=True)  # fmt: skip
            timings["cli"].append(time.perf_counter() - began)
            assert not any(account.is_permission_enabled(p) for p in pids)

    med = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    rounds = f"median of {ROUNDS} rounds"
    return [
        Row(GROUP, "revoke by key (API): key refused locally", med["local"], "ms", None, "",
            f"{rounds}; reads the account's permissions first"),
        Row(GROUP, "revoke by key (API): removal op included (3 permissions)", med["landed"], "ms", None, "", rounds),
        Row(GROUP, "signers sessions revoke --session-key (new process)", med["cli"], "ms", None, "",
            f"median of {CLI_ROUNDS}; start-up, owner key load, op, receipt"),
        Row(GROUP, "signers sessions list (new process)", med["list"], "ms", None, "", f"median of {CLI_ROUNDS}"),
        Row(GROUP, "rotate (new SoftHSM key, grant, test op, removal)", med["rotate"], "ms", None, "", rounds),
    ]  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print_table(run(), "Incident response: revoking and rotating session keys (local chain stack)")
