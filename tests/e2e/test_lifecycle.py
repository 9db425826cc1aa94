"""The session lifecycle (issue 14, item 3) on the local chain: the owner key in LocalStack KMS, session keys in
SoftHSM, the real SmartSession module. Listing, revocation by key in one op, rotation under load, and bad input
refused before anything is sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector as selector

import signers
from demo.onchain import INCREMENT, Chain
from signers.aa import (
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    NexusAccount,
    ScopeRegistry,
    ScopeViolationError,
    SessionManager,
    SessionManagerError,
    UserOperationRejectedError,
    grant_permission,
    send_session_user_operation,
)
from signers.aa.execution import decode_execute
from signers.audit import AuditTrail
from signers.cli import cli
from signers.signer import Signer
from tests.e2e.helpers import install, signed

REMOVE_SESSION = selector("removeSession(bytes32)")
HOUR = 3600

pytestmark = pytest.mark.usefixtures("installed")  # every test starts from an account with Smart Sessions installed


def grant(
    chain: Chain, account: NexusAccount, owner: Signer, key: Signer, counter: str, count: int = 1, **action: Any
) -> list[bytes]:
    """``count`` permissions for ``key`` (Counter.increment), in one grant op."""
    params = [
        CreateSessionDataParams(key.address, [ActionPolicyInfo(counter, INCREMENT, **action)]) for _ in range(count)
    ]
    granted = grant_permission(account, owner, chain.bundler, params)
    assert granted.receipt is not None and granted.receipt["success"] is True
    return list(granted.permission_ids)


def increment(account: NexusAccount, key: Signer, chain: Chain, pid: bytes, counter: str, **kw: Any) -> Any:
    return send_session_user_operation(account, key, chain.bundler, pid, [Call(counter, 0, INCREMENT)], **kw)


def manager_for(chain: Chain, account: NexusAccount, owner: Signer, audit: AuditTrail | None = None) -> SessionManager:
    return SessionManager(account, owner=owner, bundler=chain.bundler, audit=audit)


def test_list_reads_the_chain_and_joins_the_audit_trail(
    chain: Chain, account: NexusAccount, owner: Signer, session_keys: Callable[[], Signer], counter: str,
    audit: AuditTrail,
) -> None:  # fmt: skip
    key_a, key_b = session_keys(), session_keys()
    until = int(time.time()) + HOUR
    granted = grant_permission(account, owner, chain.bundler, [
        CreateSessionDataParams(key_a.address, [ActionPolicyInfo(counter, INCREMENT)], session_valid_until=until),
        CreateSessionDataParams(key_b.address, [ActionPolicyInfo(counter, INCREMENT, usage_limit=5)]),
    ])  # fmt: skip
    pid_a, pid_b = granted.permission_ids
    for _ in range(2):
        increment(account, key_a, chain, pid_a, counter)

    # a registry that knows nothing: every Session comes from the op that enabled it, on chain
    listed = SessionManager(account, registry=ScopeRegistry(), audit=audit).permissions()
    assert [r.permission_id for r in listed] == [pid_a, pid_b]
    assert [r.session for r in listed] == list(granted.sessions)  # the granter's own Sessions, decoded from chain
    a, b = listed
    assert (a.session_key, b.session_key) == (key_a.address, key_b.address)
    assert a.expires_at == until and a.enabled and b.enabled
    assert (a.ops_signed, b.ops_signed) == (2, 0)
    assert a.last_use is not None and a.last_use == audit.summary(permission_id="0x" + pid_a.hex())[0].last_use
    assert a.enabled_in == b.enabled_in  # one grant op

    # the CLI prints the same
    runner = CliRunner()
    out = runner.invoke(cli, ["sessions", "list", "--rpc-url", chain.node.url, "--account", account.address,
                              "--owner-validator", account.owner_validator, "--audit", str(audit.path),
                              "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    as_json = json.loads(out.stdout)
    assert [r["permission_id"] for r in as_json] == ["0x" + pid_a.hex(), "0x" + pid_b.hex()]
    assert as_json[0]["ops_signed"] == 2 and as_json[1]["session_key"] == key_b.address
    assert as_json[0]["scope"] == [
        {"target": counter, "selector": "0x" + INCREMENT.hex(), "policies": [chain.book.time_frame_policy,
                                                                             chain.book.sudo_policy]}
    ]  # fmt: skip


def test_revoke_by_key_removes_three_permissions_in_one_op_and_refuses_the_key_at_once(
    chain: Chain, account: NexusAccount, owner: Signer, session_keys: Callable[[], Signer], counter: str,
    audit: AuditTrail,
) -> None:  # fmt: skip
    key, other = session_keys(), session_keys()
    pids = grant(chain, account, owner, key, counter, count=3)
    (kept,) = grant(chain, account, owner, other, counter)
    increment(account, key, chain, pids[0], counter)
    signed_before = len(signed(audit, key))
    manager = manager_for(chain, account, owner, audit)

    dry = manager.revoke(session_key=key.address, dry_run=True)
    assert dry.dry_run and set(dry.permission_ids) == set(pids)
    assert all(account.is_permission_enabled(p) for p in pids)  # a dry run changes nothing
    increment(account, key, chain, pids[1], counter)  # nor refuses anything locally
    signed_before += 1

    result = manager.revoke(session_key=key.address)
    # refused locally the moment the command returns (and before: the registry was told first)
    for pid in pids:
        with pytest.raises(ScopeViolationError, match="was revoked"):
            increment(account, key, chain, pid, counter)
    assert len(signed(audit, key)) == signed_before
    # one op, a batch of three removeSession calls, landed; every permission disabled on chain, the other kept
    assert result.receipt is not None and result.receipt["success"] is True
    calls = decode_execute(result.user_operation.call_data).calls
    assert [c.data[:4] for c in calls] == [REMOVE_SESSION] * 3
    assert {bytes(decode(["bytes32"], c.data[4:])[0]) for c in calls} == set(pids)
    assert [account.is_permission_enabled(p) for p in pids] == [False, False, False]
    assert account.is_permission_enabled(kept) is True
    assert increment(account, other, chain, kept, counter).receipt["success"] is True
    # and the chain refuses the key too (sent without the local check)
    with pytest.raises(UserOperationRejectedError):
        increment(account, key, chain, pids[2], counter, scope_check=False)


def test_rotation_under_load_no_gap_and_no_signature_by_a_revoked_key(
    chain: Chain, account: NexusAccount, owner: Signer, session_keys: Callable[[], Signer], counter: str,
    audit: AuditTrail,
) -> None:  # fmt: skip
    old_key = session_keys()
    (old_pid,) = grant(chain, account, owner, old_key, counter)
    manager = manager_for(chain, account, owner, audit)
    landed: list[tuple[bytes, str]] = []  # (permission id, signer) of every op that landed
    refused: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()
    lock = threading.Condition()  # notified at every outcome

    def worker() -> None:
        while not stop.is_set():
            pid, key = manager.current(old_pid)
            key = key or old_key
            try:
                result = increment(account, key, chain, pid, counter, parallel=True)
            except ScopeViolationError as error:  # revoked between reading current() and signing: clear, unsigned
                with lock:
                    refused.append(str(error))
                    lock.notify_all()
                continue
            except BaseException as error:  # noqa: BLE001 (anything else fails the test)
                with lock:
                    failures.append(error)
                    lock.notify_all()
                return
            assert result.receipt is not None
            with lock:
                landed.append((pid, key.address) if result.receipt["success"] else (b"", "reverted"))
                lock.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        with lock:  # the old key is in use
            assert lock.wait_for(lambda: len(landed) >= 4 or failures, timeout=120)
        rotated = manager.rotate(old_pid, current_key=old_key, valid_for=HOUR, test_calls=[Call(counter, 0, INCREMENT)])
        new_pid, new_key = manager.current(old_pid)
        assert new_key is not None
        with lock:  # and the new one after
            assert lock.wait_for(lambda: sum(1 for p, _ in landed if p == new_pid) >= 4 or failures, timeout=120)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert failures == []
    assert rotated.new_permission_id == new_pid and rotated.revoke is not None
    assert rotated.revoke.receipt is not None and rotated.revoke.receipt["success"] is True
    assert all("was revoked" in r for r in refused)
    assert "reverted" not in {who for _, who in landed}
    assert {(p, who) for p, who in landed} <= {(old_pid, old_key.address), (new_pid, new_key.address)}
    # the new key was made in the same custody (SoftHSM) through the backend's key lifecycle
    assert rotated.new_key.startswith("pkcs11:") and new_key.address != old_key.address
    # nothing signed by the old key after its revocation: every signature of it is an op that landed
    revoked_at = audit.entries(address=old_key.address, outcome="refused")
    old_signed = signed(audit, old_key)
    if revoked_at:
        assert max(e.at for e in old_signed) <= min(e.at for e in revoked_at)
    landed_old = sum(1 for p, _ in landed if p == old_pid)
    assert landed_old >= 4
    assert len(old_signed) == landed_old
    # every op landed is counted on chain: the workers' and the rotation's test op
    assert chain.counter_value(counter) == len(landed) + 1
    # afterwards only the new key works
    assert account.is_permission_enabled(old_pid) is False and account.is_permission_enabled(new_pid) is True
    with pytest.raises(ScopeViolationError, match="was revoked"):
        increment(account, old_key, chain, old_pid, counter)
    with pytest.raises(UserOperationRejectedError):
        increment(account, old_key, chain, old_pid, counter, scope_check=False)
    assert increment(account, new_key, chain, new_pid, counter).receipt["success"] is True


def test_rotate_before_rotates_what_expires_within_the_margin(
    chain: Chain, account: NexusAccount, owner: Signer, session_keys: Callable[[], Signer], counter: str,
    audit: AuditTrail,
) -> None:  # fmt: skip
    soon, later = session_keys(), session_keys()
    now = int(time.time())
    granted = grant_permission(account, owner, chain.bundler, [
        CreateSessionDataParams(soon.address, [ActionPolicyInfo(counter, INCREMENT)], session_valid_until=now + 600),
        CreateSessionDataParams(later.address, [ActionPolicyInfo(counter, INCREMENT)], session_valid_until=now + 9000),
    ])  # fmt: skip
    pid_soon, pid_later = granted.permission_ids
    manager = manager_for(chain, account, owner, audit)
    results = manager.rotate_before(
        900, valid_for=HOUR, test_calls=lambda _: [Call(counter, 0, INCREMENT)],
        current_keys={soon.address: soon, later.address: later},
    )  # fmt: skip
    assert [r.old_permission_id for r in results] == [pid_soon]
    listed = {r.permission_id: r for r in manager.permissions()}
    assert set(listed) == {pid_later, results[0].new_permission_id}
    new = listed[results[0].new_permission_id]
    assert new.expires_at is not None and now + HOUR <= new.expires_at <= int(time.time()) + HOUR
    assert new.session is not None and new.session.actions == granted.sessions[0].actions  # same scope


# -- bad input: the command stops before sending anything, and says why ------------------------------------------
def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["sessions", *args])


def test_bad_input_stops_before_sending_anything(
    chain: Chain, chain_stack: Any, account: NexusAccount, owner: Signer, session_keys: Callable[[], Signer],
    counter: str, aws_kms_uri: str, kms_key_factory: Callable[..., Any], localstack: Any,
) -> None:  # fmt: skip
    key, stranger = session_keys(), session_keys()
    (pid,) = grant(chain, account, owner, key, counter)
    other_account = chain.new_account(owner.address, salt=7)
    chain.fund(other_account.address)
    install(chain, other_account, owner)
    (foreign,) = grant(chain, other_account, owner, key, counter)
    nonce = account.get_nonce(account.owner_validator)
    common = ["--rpc-url", chain.node.url, "--bundler-url", chain.bundler.rpc.url, "--owner-validator",
              account.owner_validator]  # fmt: skip

    def revoke(*args: str, account_address: str = account.address, owner_uri: str = aws_kms_uri) -> Any:
        return run("revoke", *common, "--account", account_address, "--owner", owner_uri, *args)

    unknown = revoke("--all", account_address="0x" + "12" * 20)
    assert unknown.exit_code == 1 and "the address has no code" in unknown.stderr
    not_ours = revoke("--permission-id", "0x" + foreign.hex())
    assert not_ours.exit_code == 1 and "was never enabled on " + account.address in not_ours.stderr
    no_permissions = revoke("--session-key", stranger.address)
    assert no_permissions.exit_code == 1 and f"session key {stranger.address} has no enabled permission" in (
        no_permissions.stderr
    )
    down = run("revoke", "--rpc-url", "http://127.0.0.1:9", "--bundler-url", chain.bundler.rpc.url, "--account",
               account.address, "--owner", aws_kms_uri, "--all")  # fmt: skip
    assert down.exit_code == 1 and "cannot reach http://127.0.0.1:9" in down.stderr
    usage = revoke("--all", "--session-key", key.address)
    assert usage.exit_code == 2 and "exactly one of" in usage.stderr

    # the owner's key disabled in KMS: nothing signed, nothing sent (the account's nonce has not moved)
    disabled = kms_key_factory()
    localstack.client().disable_key(KeyId=disabled.key_id)
    off = revoke("--permission-id", "0x" + pid.hex(), owner_uri=disabled.uri)
    assert off.exit_code == 1 and "disabled" in off.stderr.lower()
    assert account.get_nonce(account.owner_validator) == nonce
    assert account.is_permission_enabled(pid) and other_account.is_permission_enabled(foreign)

    # a dry run prints the op it would send, unsigned, and sends nothing
    dry = revoke("--permission-id", "0x" + pid.hex(), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    printed = json.loads(dry.stdout)
    assert printed["dry_run"] is True and printed["permission_ids"] == ["0x" + pid.hex()]
    assert printed["user_operation"]["sender"] == account.address
    assert account.get_nonce(account.owner_validator) == nonce and account.is_permission_enabled(pid)

    # and the real command, through the CLI
    done = revoke("--permission-id", "0x" + pid.hex(), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["success"] is True and not account.is_permission_enabled(pid)

    with pytest.raises(SessionManagerError, match="give the new key, or the current key"):
        SessionManager(other_account, owner=owner, bundler=chain.bundler).rotate(
            foreign, test_calls=[Call(counter, 0, INCREMENT)], valid_for=HOUR
        )


def test_rotate_through_the_cli_dry_run_then_for_real(
    chain: Chain, account: NexusAccount, owner: Signer, session_keys: Callable[[], Signer], counter: str,
    aws_kms_uri: str, softhsm: Any,
) -> None:  # fmt: skip
    key_uri = softhsm.generate_key()
    with signers.load_signer(key_uri) as key:
        (pid,) = grant(chain, account, owner, key, counter)
    nonce = account.get_nonce(account.owner_validator)
    args = ["rotate", "--rpc-url", chain.node.url, "--bundler-url", chain.bundler.rpc.url, "--account",
            account.address, "--owner-validator", account.owner_validator, "--owner", aws_kms_uri,
            "--permission-id", "0x" + pid.hex(), "--session-key-uri", key_uri, "--valid-for", str(HOUR),
            "--test-call", f"{counter}:0x{INCREMENT.hex()}", "--json"]  # fmt: skip

    dry = run(*args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True and planned["grant_user_op_hash"] is None
    assert planned["new_key"] == "not created (dry run)"
    assert planned["grant_user_operation"]["sender"] == account.address
    assert account.get_nonce(account.owner_validator) == nonce and account.is_permission_enabled(pid)

    done = run(*args)
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    new_pid = bytes.fromhex(result["new_permission_id"][2:])
    assert result["new_key"].startswith("pkcs11:") and result["revoke"]["success"] is True
    assert account.is_permission_enabled(new_pid) and not account.is_permission_enabled(pid)
    with signers.load_signer(result["new_key"]) as new_key:
        assert new_key.address == result["new_session_key"]
        assert increment(account, new_key, chain, new_pid, counter).receipt["success"] is True
    assert chain.counter_value(counter) == 2  # the rotation's test op, then this one
