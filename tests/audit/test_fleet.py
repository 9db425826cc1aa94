"""Record before release, for a fleet: several signing processes on one real PostgreSQL server (and on one
SQLite file), a process killed mid-run, the server stopped mid-run. Every signature a caller received has
its record; a record without a delivered signature can only be one a killed process committed but had not
yet handed over (README, "Policies and the audit trail")."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from eth_account import Account

from postgres.cluster import Cluster
from signers import AuditTrailError, Signer
from signers.audit import AuditTrail
from signers.signature import Signature

from .conftest import KEY, delivered, start_workers


def wait(processes: list, timeout: float = 90) -> list[str]:
    errors = []
    for process in processes:
        _, stderr = process.communicate(timeout=timeout)
        if process.returncode != 0:
            errors.append(stderr.decode())
    return errors


def signed_records(trail: AuditTrail) -> dict[str, str]:
    records = trail.entries(outcome="signed")
    digests = [entry.digest for entry in records]
    assert len(digests) == len(set(digests)), "a record was stored twice"
    return {entry.digest: entry.signature or "" for entry in records}


def test_four_processes_eight_threads_2000_signatures_2000_records(pg_url: str, tmp_path: Path) -> None:
    out = tmp_path / "delivered.txt"
    assert wait(start_workers(pg_url, processes=4, threads=8, count=500, out=out)) == []
    returned = delivered(out)
    trail = AuditTrail(pg_url)
    try:
        records = signed_records(trail)
        pids = {entry.pid for entry in trail.entries()}
    finally:
        trail.close()
    assert len(returned) == 2000
    assert records == returned  # exactly the 2,000: each with the signature its caller got, no more
    assert len(pids) == 4
    address = Account.from_key(KEY).address  # eth-account: an independent source for the key's address
    for digest, signature in list(returned.items())[:50]:  # the records hold real signatures by the key
        assert Signature.from_bytes(bytes.fromhex(signature[2:])).recover(bytes.fromhex(digest[2:])) == address


def test_sqlite_several_processes_on_one_file(tmp_path: Path) -> None:
    db, out = tmp_path / "audit.sqlite", tmp_path / "delivered.txt"
    assert wait(start_workers(str(db), processes=3, threads=2, count=100, out=out)) == []
    trail = AuditTrail(db)
    try:
        assert signed_records(trail) == delivered(out) and len(delivered(out)) == 300
    finally:
        trail.close()


@pytest.mark.parametrize("store", ["postgres", "sqlite"])
def test_a_process_killed_mid_run_leaves_every_delivered_signature_on_record(
    store: str, pg_url: str, tmp_path: Path
) -> None:
    url = pg_url if store == "postgres" else str(tmp_path / "audit.sqlite")
    out = tmp_path / "delivered.txt"
    (victim,) = start_workers(url, processes=1, threads=8, count=0, out=out)
    deadline = time.monotonic() + 60
    while len(delivered(out)) < 200:  # signing for real, not still starting
        assert victim.poll() is None and time.monotonic() < deadline, "the worker did not get going"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    returned = delivered(out)
    trail = AuditTrail(url)
    try:
        records = signed_records(trail)
    finally:
        trail.close()
    assert returned.items() <= records.items()  # every delivered signature is on record, as delivered
    # the rest were committed by threads the kill stopped before they could hand the signature over:
    # at most one per thread
    assert len(records) - len(returned) <= 8


def test_server_stopped_mid_run(cluster: Cluster, tmp_path: Path, signer: Signer) -> None:
    """Signing fails within the bound while the server is down, releases nothing unrecorded, and resumes by
    itself when the server is back (on the same address)."""
    url = cluster.create_database("audit_outage", timeout="2")
    trail = AuditTrail(url).enable()
    returned: dict[str, str] = {}
    failures: list[tuple[str, float]] = []
    stop = threading.Event()

    def sign_loop() -> None:
        while not stop.is_set():
            digest = os.urandom(32)
            started = time.monotonic()
            try:
                returned["0x" + digest.hex()] = signer.sign_digest(digest).to_hex()
            except AuditTrailError as error:
                failures.append((str(error), time.monotonic() - started))

    threads = [threading.Thread(target=sign_loop) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(returned) < 100:
            assert time.monotonic() < deadline, "signing did not get going"
            time.sleep(0.01)
        cluster.stop("fast")
        while len(failures) < 8:  # every thread has failed at least once or twice
            assert time.monotonic() < deadline + 60, "signing went on without the server"
            time.sleep(0.05)
        during = len(returned)
        cluster.start()
        deadline = time.monotonic() + 60
        while len(returned) < during + 100:
            assert time.monotonic() < deadline, "signing did not resume after the server came back"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        trail.disable()
    try:
        records = signed_records(trail)
    finally:
        trail.close()
    assert returned.items() <= records.items()  # no signature was returned without its record
    assert all("cannot record within 2 s" in message and "postgresql://" in message for message, _ in failures)
    assert max(elapsed for _, elapsed in failures) < 2 + 1.5  # the bound, plus one connection attempt's slack
    assert cluster.password_file.read_text().strip() not in "".join(message for message, _ in failures)


def test_a_table_locked_at_the_server_fails_within_the_bound(cluster: Cluster, signer: Signer) -> None:
    url = cluster.create_database("audit_locked", timeout="1")
    trail = AuditTrail(url).enable()
    try:
        signer.sign_digest(os.urandom(32))
        with cluster.connect("audit_locked") as other, other.transaction():
            other.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")  # a long maintenance job, say
            started = time.monotonic()
            with pytest.raises(AuditTrailError, match="cannot record within 1 s"):
                signer.sign_digest(os.urandom(32))
            assert time.monotonic() - started < 1 + 1.0
        signer.sign_digest(os.urandom(32))  # the lock is gone: signing goes on
    finally:
        trail.disable()
    assert len(trail.entries(outcome="signed")) == 2
    trail.close()
