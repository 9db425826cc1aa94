"""What the audit trail costs: recording before release, per signature, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_audit.py

Rows: ``sign_digest`` with no trail, with an SQLite trail and with a PostgreSQL trail (the project's private
cluster, started if needed), on a local key and on a SoftHSM key (private token); each ratio is the time per
signature against no trail, from alternating rounds so that a shared machine's load hits all alike. Then the
fleet: 4 processes x 8 threads signing 2,000 times in all (tests/audit/worker.py) with no trail, with SQLite and
with PostgreSQL, as signatures per second of the signing phase. Both stores commit durably (fsync) per record:
the cost is mostly the disk's flush time, which is this machine's, not the library's.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, print_table  # noqa: E402

GROUP = "audit"
KEY_ENV = "AUDIT_TEST_KEY"
KEY = "0x" + "4d" * 32
PIN_ENV = "SIGNERS_BENCH_AUDIT_PIN"
STATE = ROOT / ".state" / "bench-audit"


def _signer(backend: Any, trail: Any) -> Any:
    """A Signer over ``backend`` with its own plugin manager: this trail only (or none)."""
    import pluggy

    from signers import hookspecs
    from signers.signer import Signer

    manager = pluggy.PluginManager("signers")
    manager.add_hookspecs(hookspecs)
    if trail is not None:
        manager.register(trail)
    return Signer(backend, plugin_manager=manager)


def _per_signature(signers_by_name: dict[str, Any], rounds: int = 11, batch: int = 60) -> dict[str, float]:
    """Median seconds per signature of each signer, rounds alternating between them."""
    samples: dict[str, list[float]] = {name: [] for name in signers_by_name}
    for signer in signers_by_name.values():
        for _ in range(5):
            signer.sign_digest(os.urandom(32))
    for _ in range(rounds):
        for name, signer in signers_by_name.items():
            digests = [os.urandom(32) for _ in range(batch)]
            start = time.perf_counter()
            for digest in digests:
                signer.sign_digest(digest)
            samples[name].append((time.perf_counter() - start) / batch)
    return {name: statistics.median(values) for name, values in samples.items()}


def _cost_rows(custody: str, backend: Any, sqlite_path: Path, pg_url: str) -> list[Row]:
    from signers.audit import AuditTrail

    trails = {"sqlite": AuditTrail(sqlite_path), "postgresql": AuditTrail(pg_url)}
    try:
        signers_by_name = {"none": _signer(backend, None), **{n: _signer(backend, t) for n, t in trails.items()}}
        times = _per_signature(signers_by_name)
    finally:
        for trail in trails.values():
            trail.close()
    base = times["none"]
    rows = [Row(GROUP, f"{custody}: sign_digest, no trail", base * 1e6, "us")]
    for name in ("sqlite", "postgresql"):
        rows.append(
            Row(
                GROUP,
                f"{custody}: sign_digest, {name} trail",
                times[name] * 1e6,
                "us",
                times[name] / base,
                "no trail",
                f"+{(times[name] - base) * 1e6:,.0f} us per signature",
            )
        )
    return rows


def _fleet(url: str, out: Path) -> float:
    """Signatures per second of 4 processes x 8 threads signing 2,000 times (the signing phase only)."""
    environment = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": str(ROOT), "AUDIT_WORKER_BARRIER": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.audit.worker", url, "8", "500", str(out)],
            env=environment,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:  # all set up (imports, trail opened): then all start at once
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    spans = []
    for process in processes:
        stdout, _ = process.communicate(timeout=300)
        if process.returncode != 0:
            raise RuntimeError(f"a fleet worker failed (exit {process.returncode})")
        start, end = map(float, stdout.split()[-2:])
        spans.append((start, end))
    return 2000 / (max(end for _, end in spans) - min(start for start, _ in spans))


def run() -> list[Row]:
    import signers
    from postgres.cluster import running_cluster
    from signers.local import LocalBackend
    from softhsm.private import private_token

    STATE.mkdir(parents=True, exist_ok=True)
    cluster = running_cluster()
    rows: list[Row] = []
    try:
        tag = uuid.uuid4().hex[:8]
        local = LocalBackend(bytes.fromhex(KEY[2:]), "bench key")
        rows += _cost_rows("local key", local, STATE / f"local-{tag}.sqlite", cluster.create_database(f"bench_{tag}"))
        with private_token(STATE / f"softhsm-{os.getpid()}", "bench-audit", PIN_ENV) as token:
            hsm = signers.load_signer(token.generate_key("bench-audit-key"))
            try:
                rows += _cost_rows(
                    "softhsm",
                    hsm.backend,
                    STATE / f"hsm-{tag}.sqlite",
                    cluster.create_database(f"bench_hsm_{tag}"),
                )
            finally:
                hsm.close()
        fleet_pg = cluster.create_database(f"bench_fleet_{tag}")
        rates = {
            "no trail": _fleet("-", STATE / f"fleet-none-{tag}.txt"),
            "sqlite trail": _fleet(str(STATE / f"fleet-{tag}.sqlite"), STATE / f"fleet-sqlite-{tag}.txt"),
            "postgresql trail": _fleet(fleet_pg, STATE / f"fleet-pg-{tag}.txt"),
        }
        for name, rate in rates.items():
            ratio = None if name == "no trail" else rate / rates["no trail"]
            rows.append(
                Row(
                    GROUP,
                    f"fleet 4 processes x 8 threads, {name}",
                    rate,
                    "sig/s",
                    ratio,
                    "" if ratio is None else "fleet, no trail",
                    f"{os.cpu_count()} cores",
                )  # fmt: skip
            )
    finally:
        for leftover in STATE.glob(f"*{tag}*"):
            leftover.unlink()
        with cluster.connect() as admin:
            for name in ("bench", "bench_hsm", "bench_fleet"):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}_{tag}" WITH (FORCE)')
        if cluster.started_here:
            cluster.stop()
    return rows


if __name__ == "__main__":
    print_table(run(), "audit trail: the cost of recording before release")
