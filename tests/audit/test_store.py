"""The trail's columns, queries and schema, on both stores; bad input and secrets (issue 11)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest
from eth_account import Account

from postgres.cluster import Cluster
from signers import (
    AuditSchemaError,
    AuditTrailError,
    ConfigurationError,
    PolicyViolationError,
    SignRequest,
    hookimpl,
    hookspecs,
)
from signers.aa import UserOperation
from signers.aa.user_operation import user_operation_hash
from signers.audit import SCHEMA_VERSION, AuditTrail, open_store
from signers.caller import acting_for
from signers.hashing import personal_sign_hash
from signers.local import LocalBackend
from signers.signature import Signature
from signers.signer import Signer

from .conftest import KEY, ROOT

ENTRY_POINT = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
ACCOUNT = "0x1111111111111111111111111111111111111111"
PERMISSION = bytes.fromhex("ab" * 32)
OTHER_PERMISSION = bytes.fromhex("cd" * 32)
SECRET = "hunter2-not-for-logs"


class RefuseNonce:
    """A policy refusing ops with nonce 13."""

    @hookimpl
    def before_sign(self, request: SignRequest) -> None:
        if request.kind == "user_operation" and request.payload.nonce == 13:
            raise PolicyViolationError("nonce 13 is refused")


def session_op(nonce: int, permission: bytes = PERMISSION) -> UserOperation:
    # the USE stub: 0x00 ‖ permissionId ‖ a 65-byte placeholder (the scope check is not what is tested here)
    return UserOperation(ACCOUNT, nonce, b"\x01", signature=b"\x00" + permission + bytes(65))


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test below runs on both stores: a path (SQLite) and a fresh database on the real server."""
    return str(tmp_path / "audit.sqlite") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
def trail(target: str) -> Iterator[AuditTrail]:
    instance = AuditTrail(target)
    yield instance
    instance.close()


def signer_with(trail: AuditTrail) -> Signer:
    """A Signer with its own plugin manager: only this trail and the nonce-13 policy."""
    manager = pluggy.PluginManager("signers")
    manager.add_hookspecs(hookspecs)
    manager.register(trail)
    manager.register(RefuseNonce())
    return Signer(LocalBackend(bytes.fromhex(KEY[2:]), "audit test key"), plugin_manager=manager)


def test_columns_an_investigator_needs_and_the_queries(trail: AuditTrail) -> None:
    signer = signer_with(trail)
    started = time.time()
    with acting_for("billing-service"):
        signatures = [signer.sign_user_operation(session_op(n), ENTRY_POINT, 31337) for n in (1, 2)]
        with pytest.raises(PolicyViolationError):
            signer.sign_user_operation(session_op(13), ENTRY_POINT, 31337)
    signer.sign_user_operation(session_op(3, OTHER_PERMISSION), ENTRY_POINT, 31337)
    message = signer.sign_message("not a session op")

    first = trail.entries(user_op_hash="0x" + user_operation_hash(session_op(1), ENTRY_POINT, 31337).hex().upper())
    (entry,) = first  # hashes match in any letter case
    assert entry.signature == signatures[0].to_hex()
    op_hash = user_operation_hash(session_op(1), ENTRY_POINT, 31337)
    assert Signature.from_bytes(bytes.fromhex(entry.signature[2:])).recover(personal_sign_hash(op_hash)) == (
        Account.from_key(KEY).address  # an independent source for the key's address
    )
    assert (entry.outcome, entry.kind, entry.chain_id, entry.entry_point) == ("signed", "user_operation", 31337,
                                                                               ENTRY_POINT)  # fmt: skip
    assert (entry.permission_id, entry.session_key, entry.account) == ("0x" + PERMISSION.hex(), signer.address, ACCOUNT)
    assert (entry.client, entry.host, entry.pid) == ("billing-service", os.uname().nodename, os.getpid())
    assert entry.backend == "audit test key" and started <= entry.at <= time.time()

    assert [e.outcome for e in trail.entries(permission_id="0x" + PERMISSION.hex())] == ["signed", "signed", "refused"]
    (refused,) = trail.entries(outcome="refused")
    assert refused.reason == "PolicyViolationError: nonce 13 is refused" and refused.signature is None
    assert len(trail.entries(client="billing-service")) == 3
    assert len(trail.entries(account=ACCOUNT.lower())) == 4  # addresses in any case
    assert len(trail.entries(address=signer.address)) == 5
    assert trail.entries(since=time.time() + 60) == [] and len(trail.entries(until=time.time() + 60)) == 5
    assert trail.entries(limit=2) == trail.entries()[:2]
    (plain,) = trail.entries(until=time.time() + 60, outcome="signed", permission_id=None, user_op_hash=None)[-1:]
    assert plain.signature == message.signature.to_0x_hex() and plain.permission_id is None

    summary = {item.permission_id: item for item in trail.summary()}
    ours, other = summary["0x" + PERMISSION.hex()], summary["0x" + OTHER_PERMISSION.hex()]
    assert (ours.signed, ours.refused, ours.failed, ours.accounts, ours.session_keys) == (2, 1, 0, 1, 1)
    assert ours.first_use <= ours.last_use and (other.signed, other.refused) == (1, 0)
    assert [item.permission_id for item in trail.summary(client="billing-service")] == ["0x" + PERMISSION.hex()]


def test_filters_refuse_malformed_values_without_echoing_them(trail: AuditTrail) -> None:
    for name in ("address", "account", "permission_id", "user_op_hash", "outcome"):
        with pytest.raises(ConfigurationError, match=name) as raised:
            trail.entries(**{name: SECRET})
        assert SECRET not in str(raised.value)


def test_cli_lists_filters_summarises_and_exports(trail: AuditTrail, target: str, tmp_path: Path) -> None:
    signer = signer_with(trail)
    with acting_for("ops-bot"):
        signer.sign_user_operation(session_op(1), ENTRY_POINT, 31337)
    signer.sign_user_operation(session_op(2), ENTRY_POINT, 31337)
    env = {**os.environ, "SIGNERS_AUDIT_URL": target}
    signers_cli = str(Path(sys.executable).with_name("signers"))

    def run(*args: str) -> str:
        done = subprocess.run([signers_cli, "audit", *args], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = run("--client", "ops-bot").splitlines()
    assert len(listed) == 1 and "permission 0x" + PERMISSION.hex() in listed[0] and "for ops-bot" in listed[0]
    assert f"0x{PERMISSION.hex()} signed 2 refused 0 failed 0" in run("--summary")
    out = tmp_path / "export.jsonl"
    assert run("--export", str(out), "--permission-id", "0x" + PERMISSION.hex()).startswith("2 records")
    exported = [line for line in out.read_text().splitlines() if line]
    assert exported == run("--json", "--permission-id", "0x" + PERMISSION.hex()).splitlines()
    assert run("--since", "2000-01-01T00:00", "--until", "2000-01-02", "--json") == ""
    assert f"schema version {SCHEMA_VERSION}" in run("migrate")


# -- schema versions --------------------------------------------------------------------------------------
V1_ROW = (
    "INSERT INTO audit (at, outcome, address, backend, kind, digest, signature, context, reason) VALUES "
    "(1700000000, 'signed', '0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A', 'local', 'user_operation', '0x01', "
    '\'0x02\', \'{"chain_id": 5, "user_op_hash": "0xAB", "entry_point": "0xEP"}\', NULL)'
)


def test_an_older_sqlite_trail_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    open_store(path, migrate=False).migrate(1)  # what the first releases created
    with sqlite3.connect(path) as old:
        old.execute("PRAGMA user_version = 0")  # they set no version
        old.execute(V1_ROW)
    trail = AuditTrail(path)
    try:
        assert trail.version() == SCHEMA_VERSION
        (entry,) = trail.entries()
        assert (entry.chain_id, entry.user_op_hash, entry.entry_point) == (5, "0xab", "0xEP")
    finally:
        trail.close()


def database_of(url: str) -> str:
    return url.split("/")[3].split("?")[0]


def test_an_older_postgres_trail_is_migrated(cluster: Cluster, pg_url: str) -> None:
    store = open_store(pg_url, migrate=False)
    assert store.migrate(1) == 1
    store.close()
    with cluster.connect(database_of(pg_url)) as connection:  # a row as an older signers wrote it
        connection.execute(V1_ROW)
    trail = AuditTrail(pg_url)
    try:
        assert trail.version() == SCHEMA_VERSION
        (entry,) = trail.entries()
        assert (entry.chain_id, entry.user_op_hash, entry.context["entry_point"]) == (5, "0xab", "0xEP")
    finally:
        trail.close()


def test_a_newer_schema_is_refused(tmp_path: Path, cluster: Cluster, pg_url: str) -> None:
    path = tmp_path / "new.sqlite"
    AuditTrail(path).close()
    with sqlite3.connect(path) as newer:
        newer.execute("PRAGMA user_version = 99")
    newer_than = f"schema version 99 is newer than this signers knows \\({SCHEMA_VERSION}"
    with pytest.raises(AuditSchemaError, match=newer_than):
        AuditTrail(path)
    AuditTrail(pg_url).close()
    with cluster.connect(database_of(pg_url)) as connection:
        connection.execute("UPDATE audit_schema SET version = 99")
    with pytest.raises(AuditSchemaError, match="schema version 99 is newer"):
        AuditTrail(pg_url)


# -- bad input: every error names the part and the rule, never a secret ------------------------------------
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://postgres@127.0.0.1:99999/db", "the port must be a number"),
        ("postgresql://postgres@127.0.0.1:abc/db", "the port must be a number"),
        (f"postgresql://postgres:{SECRET}@127.0.0.1/db", "a password in the URL is not accepted"),
        (f"postgresql://postgres@127.0.0.1/db?password={SECRET}", "query parameter 1 is unknown"),
        (f"postgresql://postgres@127.0.0.1/db?sslmode=require&{SECRET}=1", "query parameter 2 is unknown"),
        (f"postgresql://postgres@127.0.0.1/db?password-source={SECRET}", "must be env:NAME or file:PATH"),
        (f"mysql://root:{SECRET}@127.0.0.1/db", "the scheme must be sqlite or postgresql"),
        (f"sqlite://{SECRET}/audit.db", "three slashes, no host"),
        ("sqlite:///tmp/audit.db?timeout=forever", "timeout: must be a number of seconds"),
    ],
)
def test_malformed_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        AuditTrail(url)
    assert SECRET not in str(raised.value) + repr(raised.value)


def test_wrong_password_and_missing_database(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_WRONG_PASSWORD", SECRET)
    wrong = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres?password-source=env:AUDIT_WRONG_PASSWORD"
    with pytest.raises(AuditTrailError, match="the server refused the credentials") as raised:
        AuditTrail(wrong)
    assert SECRET not in str(raised.value)
    with pytest.raises(AuditTrailError, match="the database does not exist"):
        AuditTrail(cluster.url("no_such_database"))
    with pytest.raises(AuditTrailError, match="the server cannot be reached"):
        AuditTrail("postgresql://postgres@127.0.0.1:1/postgres?password-source=env:AUDIT_WRONG_PASSWORD")


def test_libpq_passfile_and_no_secret_in_repr(cluster: Cluster, pg_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    password = cluster.password_file.read_text().strip()
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{cluster.port}:*:postgres:{password}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    trail = AuditTrail(pg_url.split("?")[0])  # no password-source: libpq reads its passfile
    try:
        assert trail.version() == SCHEMA_VERSION
        shown = repr(trail) + repr(trail.store) + trail.url + repr(trail.store.settings)  # type: ignore[attr-defined]
        assert password not in shown and "postgresql://postgres@127.0.0.1" in shown
    finally:
        trail.close()


def test_the_core_does_not_import_psycopg() -> None:
    code = "import sys, signers, signers.audit; assert not [m for m in sys.modules if m.startswith('psycopg')]"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)
