"""End to end: a Smart Sessions UserOperation on the local chain stack, session key in SoftHSM, owner in KMS.

    .venv/bin/python bench/bench_e2e.py

It starts what it needs (a private SoftHSM token under .state/bench-e2e/, LocalStack, the chain stack: see
demo/services.py), reusing a LocalStack or chain stack that already runs, and stops what it started. One account
(deployed, Smart Sessions installed, a session granted for Counter.increment()), then rows:

- one session op split into its phases, medians over SEQUENTIAL_OPS ops sent one after the other: prepare
  (EntryPoint nonce, bundler fee quote, eth_estimateUserOperationGas), sign (userOpHash, before_sign hooks with
  the scope check, SoftHSM CKM_ECDSA, low-s, recovery id, self-check; ratio to a bare backend.sign on the same
  key), bundler (eth_sendUserOperation until accepted), inclusion (until eth_getUserOperationReceipt answers,
  polled every RECEIPT_POLL_S), and the whole;
- the owner's op signing with the key in AWS KMS (LocalStack), ratio to a bare backend.sign;
- throughput of session ops: one at a time (send, wait for the receipt, next) against PARALLEL_OPS in flight at
  once on distinct nonce keys (threads; sent, then all receipts awaited), ops per second over whole rounds.

The phases follow signers.aa.send_session_user_operation step by step (build_user_operation, sign, send, wait);
they are called one by one here only to time them.

Inclusion is Alto's bundling loop, not ours, and on Alto 0.0.20 + anvil it slows down as one Alto instance
bundles more ops: time to inclusion measured ~200 ms for the first ops and ~450 ms after ~40 (with Alto's
logging off too). The phase medians come from the first ops of the run; the throughput rounds come later, so
"one at a time" is slower than 1 / "whole"; its ratio to "in flight" is paired round by round.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, median_seconds, print_table, progress  # noqa: E402

GROUP = "e2e"
SEQUENTIAL_OPS = 20
OWNER_SIGNS = 40
BARE_SIGNS = 40
PARALLEL_OPS = 8
THROUGHPUT_ROUNDS = 3
RECEIPT_POLL_S = 0.005
PIN_ENV = "SIGNERS_BENCH_E2E_PKCS11_PIN"


_progress = progress("bench_e2e")


def _ms(seconds: float) -> float:
    return seconds * 1000


def run() -> list[Row]:
    from demo.services import start_chain, start_localstack, start_softhsm

    with contextlib.ExitStack() as services:
        token = start_softhsm(services, ROOT / ".state" / "bench-e2e" / "softhsm", "bench-e2e", PIN_ENV)
        kms = start_localstack(services, _progress)
        deployment, chain_started = start_chain(services, _progress)
        return _measure(token, kms, deployment, chain_started)


def _measure(token: object, kms: object, deployment: dict[str, object], chain_started: bool) -> list[Row]:
    import signers
    from demo.onchain import INCREMENT, Chain
    from demo.services import HsmToken, LocalStack
    from signers.aa import (
        ActionPolicyInfo,
        Call,
        CreateSessionDataParams,
        build_user_operation,
        grant_permission,
        install_smart_sessions,
        send_session_user_operation,
    )

    assert isinstance(token, HsmToken) and isinstance(kms, LocalStack)
    chain = Chain.from_deployment(deployment, funder_index=1)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(chain.close)
        kms_key = kms.create_key(description="signers bench_e2e owner")
        key_id, owner_uri = kms_key.key_id, kms_key.uri
        cleanup.callback(kms.client().schedule_key_deletion, KeyId=key_id, PendingWindowInDays=7)
        owner = cleanup.enter_context(signers.load_signer(owner_uri))
        session_key = cleanup.enter_context(signers.load_signer(token.generate_key(prefix="bench-session")))

        counter = str(deployment["counter"]) if chain_started else chain.deploy_counter()
        account = chain.new_account(owner.address)
        chain.fund(account.address, 10 * 10**18)
        _progress("deploying the account, installing Smart Sessions, granting a session ...")
        install_smart_sessions(account, owner, chain.bundler)
        params = CreateSessionDataParams(
            session_public_key=session_key.address, action_policies_info=[ActionPolicyInfo(counter, INCREMENT)]
        )
        granted = grant_permission(account, owner, chain.bundler, params)
        (pid,) = granted.permission_ids
        calls = [Call(counter, 0, INCREMENT)]
        validation = account.session_validation(pid)
        entry_point = account.entry_point

        # -- one op, phase by phase --------------------------------------------------------------------------
        _progress(f"{SEQUENTIAL_OPS} session ops, timed phase by phase ...")
        phases: dict[str, list[float]] = {"prepare": [], "sign": [], "bundler": [], "inclusion": [], "total": []}
        start_value = chain.counter_value(counter)
        for _ in range(SEQUENTIAL_OPS):
            t0 = time.perf_counter()
            op = build_user_operation(account, calls, validation, chain.bundler, nonce_key=0, deploy=False)
            t1 = time.perf_counter()
            signed = account.sign_user_operation(op, session_key, validation)
            t2 = time.perf_counter()
            op_hash = chain.bundler.send_user_operation(signed, entry_point)
            t3 = time.perf_counter()
            receipt = chain.bundler.wait_for_receipt(op_hash, timeout=60, poll_interval=RECEIPT_POLL_S)
            t4 = time.perf_counter()
            assert receipt["success"] is True
            for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
                phases[name].append(seconds)
        assert chain.counter_value(counter) == start_value + SEQUENTIAL_OPS

        digest = bytes(range(32))
        bare_hsm = median_seconds(lambda: session_key.backend.sign(digest), BARE_SIGNS)
        owner_op = build_user_operation(
            account, calls, account.owner_validation(), chain.bundler, nonce_key=0, deploy=False
        )
        owner_sign = median_seconds(
            lambda: account.sign_user_operation(owner_op, owner, account.owner_validation()), OWNER_SIGNS
        )
        bare_kms = median_seconds(lambda: owner.backend.sign(digest), OWNER_SIGNS)

        # -- throughput ----------------------------------------------------------------------------------------
        def send(parallel: bool) -> bytes:
            return send_session_user_operation(
                account, session_key, chain.bundler, pid, calls, parallel=parallel, wait=False
            ).user_op_hash

        def included(op_hash: bytes) -> None:  # the same receipt polling for both
            receipt = chain.bundler.wait_for_receipt(op_hash, timeout=60, poll_interval=RECEIPT_POLL_S)
            assert receipt["success"] is True

        _progress(
            f"throughput: {PARALLEL_OPS} ops one at a time, then {PARALLEL_OPS} in flight, x{THROUGHPUT_ROUNDS} ..."
        )
        sequential_rates, parallel_rates, ratios = [], [], []
        for _ in range(THROUGHPUT_ROUNDS):  # alternated, so that machine load hits both alike
            began = time.perf_counter()
            for _ in range(PARALLEL_OPS):
                included(send(False))
            sequential_rates.append(PARALLEL_OPS / (time.perf_counter() - began))
            began = time.perf_counter()
            with ThreadPoolExecutor(PARALLEL_OPS) as pool:
                hashes = list(pool.map(lambda _: send(True), range(PARALLEL_OPS)))
            for op_hash in hashes:
                included(op_hash)
            parallel_rates.append(PARALLEL_OPS / (time.perf_counter() - began))
            ratios.append(parallel_rates[-1] / sequential_rates[-1])
        expected = start_value + SEQUENTIAL_OPS + 2 * PARALLEL_OPS * THROUGHPUT_ROUNDS
        assert chain.counter_value(counter) == expected

    med = {name: statistics.median(values) for name, values in phases.items()}
    total = med["total"]
    per_op = f"median of {SEQUENTIAL_OPS} ops"
    return [
        Row(GROUP, "session op: prepare (nonce, fees, gas estimate)", _ms(med["prepare"]), "ms",
            med["prepare"] / total, "whole op", per_op),
        Row(GROUP, "session op: sign (SoftHSM, scope check, hooks)", _ms(med["sign"]), "ms",
            med["sign"] / bare_hsm, "bare HSM backend.sign", f"bare {_ms(bare_hsm):.2f} ms"),
        Row(GROUP, "session op: bundler (eth_sendUserOperation accepted)", _ms(med["bundler"]), "ms",
            med["bundler"] / total, "whole op", per_op),
        Row(GROUP, "session op: inclusion (until receipt)", _ms(med["inclusion"]), "ms",
            med["inclusion"] / total, "whole op", f"receipt polled every {_ms(RECEIPT_POLL_S):g} ms; Alto's loop"),
        Row(GROUP, "session op: whole (prepare to receipt)", _ms(total), "ms", None, "", per_op),
        Row(GROUP, "owner op: sign (AWS KMS on LocalStack)", _ms(owner_sign), "ms",
            owner_sign / bare_kms, "bare KMS backend.sign", f"bare {_ms(bare_kms):.2f} ms"),
        Row(GROUP, "session ops, one at a time", statistics.median(sequential_rates), "op/s", None, "",
            "send, wait for the receipt, next"),
        Row(GROUP, f"session ops, {PARALLEL_OPS} in flight (distinct nonce keys)",
            statistics.median(parallel_rates), "op/s", statistics.median(ratios), "one at a time",
            f"median of {THROUGHPUT_ROUNDS} paired rounds"),
    ]  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print_table(run(), "End to end: Smart Sessions UserOperations (local chain stack)")
