"""The Python a session UserOperation costs above the backend's own signing (issue 13 item 6).

    .venv/bin/python bench/bench_session_op.py

A Smart Sessions permission (one ERC-20 ``transfer`` to one recipient, amount <= a bound) is registered with the
scope check as a session key's process does; the op carries its USE stub, the session key signs it through
``Signer.sign_user_operation`` on the global plugin manager (the built-in scope check on, no audit trail). Rows,
for a local key and a SoftHSM2 key: the bare backend ``sign`` of a digest, ``sign_digest`` (conversion,
self-check, hooks) and the session op (userOpHash, scope check, conversion, hooks); the overhead row is the
session op minus the bare backend, the target <= 100 us. Components are timed alone: the userOpHash, the
scope check, and the conversion with its self-check (one libsecp256k1 recovery, most of the overhead's floor).
Times are thread CPU time (medians of batches): what the Python costs, steady on a loaded machine.

The same Python costs more after a SoftHSM call than after a local-key signature: the device's ~280 us of
OpenSSL work leaves the interpreter's caches cold (the components alone cost the same with either key).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, alternating_rounds, batch_median_seconds, print_table  # noqa: E402

GROUP = "session op"
KEY_ENV = "SIGNERS_BENCH_SESSION_KEY"
PIN_ENV = "SIGNERS_BENCH_SESSION_PIN"
ACCOUNT = "0x1111111111111111111111111111111111111111"
TOKEN = "0x2222222222222222222222222222222222222222"
RECIPIENT = "0x000000000000000000000000000000000000bEEF"
TRANSFER = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
CHAIN_ID = 31337


def _cpu_median(fn: Callable[[], object], batch: int, rounds: int) -> float:
    """Median thread CPU seconds per call: the Python a call costs, which wall time on a shared, loaded machine
    hides under other processes' work (SoftHSM signs in this thread: it is counted)."""
    return batch_median_seconds(fn, batch, rounds, clock=time.thread_time)


def _paired(bare: Callable[[], object], measured: Callable[[], object]) -> tuple[float, float, float]:
    """Median CPU seconds per call of each and the median per-round difference (rounds alternate the two)."""
    bare_times, times = alternating_rounds(bare, measured, rounds=25, batch=50, clock=time.thread_time)
    differences = [m - b for b, m in zip(bare_times, times, strict=True)]
    return statistics.median(bare_times), statistics.median(times), statistics.median(differences)


def _session_op(signer_address: str) -> tuple[object, object]:
    """(the op with its USE stub, the scope registry's check): a permission granted to ``signer_address``."""
    from signers.aa import (
        CANONICAL,
        ActionPolicyInfo,
        Call,
        CreateSessionDataParams,
        ParamCondition,
        Rule,
        StartaleAccount,
        UserOperation,
        encode_execute,
        prepare_sessions,
        register_session,
    )

    now = int(time.time())
    params = CreateSessionDataParams(
        session_public_key=signer_address,
        salt=os.urandom(32),
        session_valid_until=now + 3600,
        session_valid_after=now - 60,
        action_policies_info=[
            ActionPolicyInfo(
                TOKEN, TRANSFER, valid_until=now + 3600,
                rules=[Rule(ParamCondition.EQUAL, 0, RECIPIENT), Rule(ParamCondition.LESS_THAN_OR_EQUAL, 1, 10**6)],
            )
        ],
    )  # fmt: skip
    session = prepare_sessions([params], chain_id=CHAIN_ID).sessions[0]
    register_session(session, account=ACCOUNT, addresses=CANONICAL, on_unreadable="open")
    account = StartaleAccount(ACCOUNT, node=None, chain_id=CHAIN_ID)
    transfer = TRANSFER + bytes(12) + bytes.fromhex(RECIPIENT[2:]) + (1000).to_bytes(32, "big")
    op = UserOperation(
        sender=ACCOUNT,
        nonce=account.nonce_key(CANONICAL.smart_sessions) << 64 | 7,
        call_data=encode_execute([Call(TOKEN, 0, transfer)]),
        call_gas_limit=100_000,
        verification_gas_limit=200_000,
        pre_verification_gas=50_000,
        max_fee_per_gas=10**9,
        max_priority_fee_per_gas=10**8,
        signature=account.session_validation(session.permission_id).stub,
    )
    return op, account.entry_point


def _rows(label: str, signer: object) -> list[Row]:
    from signers.aa.scope import SCOPE_CHECK
    from signers.user_operation import user_operation_hash

    digest = os.urandom(32)
    backend = signer.backend  # type: ignore[attr-defined]
    bare = lambda: backend.sign(digest)  # noqa: E731
    sign_digest = lambda: signer.sign_digest(digest)  # type: ignore[attr-defined]  # noqa: E731
    b, d, d_over = _paired(bare, sign_digest)  # before the key becomes a session key (which signs ops only)
    op, entry_point = _session_op(signer.address)  # type: ignore[attr-defined]
    session = lambda: signer.sign_user_operation(op, entry_point, CHAIN_ID)  # type: ignore[attr-defined]  # noqa: E731
    # the op is signed for real, recovered once
    signature = session()
    from signers.hashing import personal_sign_hash

    assert signature.recover(personal_sign_hash(user_operation_hash(op, entry_point, CHAIN_ID))) == signer.address  # type: ignore[attr-defined]

    _, s, s_over = _paired(bare, session)
    op_hash = _cpu_median(lambda: user_operation_hash(op, entry_point, CHAIN_ID), batch=200, rounds=15)
    check = _cpu_median(
        lambda: SCOPE_CHECK.check(op, CHAIN_ID, signer=signer.address),  # type: ignore[attr-defined]
        batch=200,
        rounds=15,
    )
    from signers.signature import Signature

    raw = backend.sign(digest)
    convert = Signature.from_der if backend.signature_format == "der" else Signature.from_rs
    public_key = signer.public_key  # type: ignore[attr-defined]
    conversion = _cpu_median(lambda: convert(raw, digest, public_key), batch=200, rounds=15)
    return [
        Row(GROUP, f"{label}: bare backend sign", b * 1e6, "us", 1.0, "bare backend"),
        Row(GROUP, f"{label}: sign_digest", d * 1e6, "us", d / b, "bare backend", f"+{d_over * 1e6:.0f} us"),
        Row(GROUP, f"{label}: session op", s * 1e6, "us", s / b, "bare backend", f"+{s_over * 1e6:.0f} us"),
        Row(GROUP, f"{label}: session-op overhead", s_over * 1e6, "us", note="target <= 100 us"),
        Row(GROUP, f"{label}: userOpHash alone", op_hash * 1e6, "us"),
        Row(GROUP, f"{label}: scope check alone", check * 1e6, "us"),
        Row(GROUP, f"{label}: conversion + self-check alone", conversion * 1e6, "us"),
    ]


def run() -> list[Row]:
    for name in ("SIGNERS_AUDIT_URL", "SIGNERS_AUDIT_DB"):
        os.environ.pop(name, None)  # audit off: the figure is the library's own Python
    os.environ[KEY_ENV] = "0x" + os.urandom(32).hex()
    import signers

    rows = _rows("local key", signers.load_signer(f"local:env:{KEY_ENV}"))
    from signers.testing.softhsm import private_token

    with private_token(ROOT / ".state" / "softhsm" / f"bench-session-{os.getpid()}", "bench", PIN_ENV) as token:
        signer = signers.load_signer(token.generate_key("session-key"))
        try:
            rows += _rows("SoftHSM key", signer)
        finally:
            signer.close()
    return rows


if __name__ == "__main__":
    print_table(run(), "Session UserOperation: Python above the backend")
