"""Issue 15 item 7: each way an SQLite trail fails is a named AuditTrailError, never a raw
sqlite3.OperationalError, and a signature whose record was not committed never reaches the caller."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

import pytest

import signers
from signers import AuditTrailError, PolicyViolationError, Signer, SignRequest, hookimpl
from signers.audit import AuditTrail


def blocker(path: Path) -> sqlite3.Connection:
    """Another process's connection holding the write lock (a long transaction)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN EXCLUSIVE")
    return connection


def test_locked_past_the_bound_discards_the_signature(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "audit.sqlite"
    trail = AuditTrail(path, timeout=0.3).enable()
    try:
        lock = blocker(path)
        with pytest.raises(AuditTrailError, match="locked by another connection for more than 0.3 s"):
            signer.sign_digest(os.urandom(32))
        lock.execute("ROLLBACK")
        lock.close()
        signature = signer.sign_digest(digest := os.urandom(32))
    finally:
        trail.disable()
    (entry,) = trail.entries()  # only the one that was released
    assert (entry.digest, entry.signature) == ("0x" + digest.hex(), signature.to_hex())
    trail.close()


def test_a_full_database_is_a_named_error(tmp_path: Path, signer: Signer) -> None:
    trail = AuditTrail(tmp_path / "audit.sqlite").enable()
    try:
        signer.sign_digest(os.urandom(32))
        # the database's size limit is the disk here: SQLite answers SQLITE_FULL as for a full disk
        pages = trail.store._db.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[attr-defined]
        trail.store._db.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[attr-defined]
        with pytest.raises(AuditTrailError, match=r"the disk \(or the database's size limit\) is full"):
            for _ in range(200):  # until the last page is used up
                signer.sign_digest(os.urandom(32))
    finally:
        trail.disable()
    assert len(trail.entries()) < 200
    trail.close()


def test_a_read_only_file_is_reported_as_read_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    AuditTrail(path).close()
    path.chmod(0o444)
    with pytest.raises(AuditTrailError, match="read-only") as raised:
        AuditTrail(path)
    assert "not an SQLite database" not in str(raised.value)


def test_a_file_locked_at_open_is_reported_as_locked(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    AuditTrail(path).close()
    lock = blocker(path)
    try:
        with pytest.raises(AuditTrailError, match="cannot open it: locked") as raised:
            AuditTrail(path, timeout=0.2)
        assert "not an SQLite database" not in str(raised.value)
    finally:
        lock.close()


def test_a_corrupt_file_is_a_clear_error_at_start(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(AuditTrailError, match="not an SQLite database"):
        AuditTrail(path)


def test_a_trail_file_deleted_while_running_stops_signing(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "audit.sqlite"
    trail = AuditTrail(path).enable()
    try:
        signer.sign_digest(os.urandom(32))
        path.unlink()
        with pytest.raises(AuditTrailError, match="deleted or replaced while this process was writing"):
            signer.sign_digest(os.urandom(32))
        AuditTrail(path).close()  # a new file at the same path is not the one this process opened
        with pytest.raises(AuditTrailError, match="deleted or replaced"):
            signer.sign_digest(os.urandom(32))
    finally:
        trail.disable()
        trail.close()


def test_a_refusal_the_trail_cannot_take_keeps_its_reason_and_says_so(tmp_path: Path, signer: Signer) -> None:
    class Refuse:
        @hookimpl
        def before_sign(self, request: SignRequest) -> None:
            raise PolicyViolationError("not today")

    path = tmp_path / "audit.sqlite"
    trail = AuditTrail(path, timeout=0.2).enable()
    refuse = Refuse()
    signers.get_plugin_manager().register(refuse)
    lock = blocker(path)
    try:
        with pytest.raises(PolicyViolationError, match="not today") as raised:
            signer.sign_digest(os.urandom(32))
    finally:
        lock.close()
        signers.get_plugin_manager().unregister(refuse)
        trail.disable()
        trail.close()
    assert any("not on the audit record" in note and "locked" in note for note in raised.value.__notes__)


async def test_the_insert_does_not_block_the_event_loop(tmp_path: Path, signer: Signer) -> None:
    """The trail is locked; only a task on the same event loop can release it. If the insert ran on the
    loop, the release could not run until the 10 s bound had passed and the signing had failed."""
    path = tmp_path / "audit.sqlite"
    trail = AuditTrail(path, timeout=10).enable()
    lock = blocker(path)
    waiting = threading.Event()
    seen: list[bool] = []

    class Observer:
        @hookimpl(trylast=True)
        def after_sign(self, request: SignRequest, signature: signers.Signature) -> None:
            try:
                asyncio.get_running_loop()
                seen.append(True)
            except RuntimeError:
                seen.append(False)

    async def release() -> None:
        await asyncio.sleep(0.2)  # the signing call is parked on the lock by then (or the loop is blocked)
        lock.execute("ROLLBACK")
        waiting.set()

    observer = Observer()
    signers.get_plugin_manager().register(observer)
    try:
        signature, _ = await asyncio.gather(signer.asign_digest(digest := os.urandom(32)), release())
    finally:
        signers.get_plugin_manager().unregister(observer)
        trail.disable()
        lock.close()
    assert waiting.is_set() and seen == [False]  # after_sign ran in a worker thread, not on the loop
    assert [e.signature for e in trail.entries()] == [signature.to_hex()]
    assert signature.recover(digest) == signer.address
    trail.close()


async def test_recording_a_refusal_does_not_block_the_event_loop(tmp_path: Path, signer: Signer) -> None:
    """As above, for a request a policy refuses: its record waits for the lock off the loop."""

    class Refuse:
        @hookimpl
        def before_sign(self, request: SignRequest) -> None:
            raise PolicyViolationError("refused while the trail is locked")

    path = tmp_path / "audit.sqlite"
    trail = AuditTrail(path, timeout=10).enable()
    lock = blocker(path)
    refuse = Refuse()

    async def release() -> None:
        await asyncio.sleep(0.2)
        lock.execute("ROLLBACK")

    signers.get_plugin_manager().register(refuse)
    try:
        results = await asyncio.gather(signer.asign_digest(os.urandom(32)), release(), return_exceptions=True)
    finally:
        signers.get_plugin_manager().unregister(refuse)
        trail.disable()
        lock.close()
    assert isinstance(results[0], PolicyViolationError) and not getattr(results[0], "__notes__", None)
    (entry,) = trail.entries()
    assert entry.outcome == "refused" and entry.reason == "PolicyViolationError: refused while the trail is locked"
    trail.close()
