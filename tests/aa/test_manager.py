"""SessionManager's parts that need no chain (renewing a Session, refusing revoked permissions and keys, the
limits' config ids and fail-closed defaults, the CLI's usage errors), and ``Backend.create_like`` in each custody:
local keystore, SoftHSM, LocalStack KMS and the Cloud KMS emulator."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pluggy
import pytest
from click.testing import CliRunner
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

import signers
from signers.aa import (
    CANONICAL,
    ActionPolicyInfo,
    CreateSessionDataParams,
    ScopeRegistry,
    ScopeViolationError,
    SessionScopeCheck,
    StartaleAccount,
    UserOperation,
    prepare_sessions,
)
from signers.aa.errors import LimitsUnavailableError
from signers.aa.execution import Call, encode_execute
from signers.aa.limits import OnChainLimits, action_config_id, mapping_slot, user_op_config_id
from signers.aa.manager import renewed_session, session_expiry
from signers.aa.sessions import stub_signature
from signers.cli import cli
from signers.errors import UnsupportedOperationError
from signers.local import LocalBackend
from signers.signer import Signer

NOW = 1_800_000_000
COUNTER = "0x3333333333333333333333333333333333333333"
INCREMENT = bytes.fromhex("d09de08a")
ACCOUNT = "0x5555555555555555555555555555555555555555"
TF = CANONICAL.time_frame_policy


def session_for(key: str, **action: Any) -> Any:
    params = CreateSessionDataParams(
        key, [ActionPolicyInfo(COUNTER, INCREMENT, **action)], session_valid_until=NOW + 600
    )
    return prepare_sessions([params], chain_id=31337).sessions[0]


def time_frames(policies: Any) -> list[tuple[int, int]]:
    return [(int.from_bytes(p.init_data[:6], "big"), int.from_bytes(p.init_data[6:12], "big")) for p in policies
            if p.policy == TF]  # fmt: skip


def test_renewed_session_same_scope_new_key_new_id_new_expiry() -> None:
    old_key, new_key = Account.create().address, Account.create().address
    session = session_for(old_key, valid_until=NOW + 300, usage_limit=3)  # the action ends before the session
    renewed = renewed_session(session, new_key, NOW + 7200, TF)
    assert renewed.session_key == new_key and session.session_key == old_key
    # the permission id as SmartSession computes it (IdLib), from the new validator data and salt
    expected = keccak(encode(["address", "bytes", "bytes32"], [
        renewed.session_validator, encode(["uint256", "address[]"], [1, [new_key]]), renewed.salt]))  # fmt: skip
    assert renewed.permission_id == expected != session.permission_id
    assert time_frames(renewed.user_op_policies) == [(NOW + 7200, 0)]
    assert time_frames(renewed.actions[0].action_policies) == [(NOW + 7200, 0)]  # moved: it would end sooner
    # everything else in the scope is the same: target, selector, the other policies and their init data
    same = [(p.policy, p.init_data) for p in session.actions[0].action_policies if p.policy != TF]
    assert [(p.policy, p.init_data) for p in renewed.actions[0].action_policies if p.policy != TF] == same
    assert (renewed.actions[0].action_target, renewed.actions[0].action_target_selector) == (COUNTER, INCREMENT)
    later = renewed_session(session_for(old_key, valid_until=NOW + 10**6), new_key, NOW + 7200, TF)
    assert time_frames(later.actions[0].action_policies) == [(NOW + 10**6, 0)]  # ends later: kept
    assert session_expiry(session, TF) == NOW + 600 and session_expiry(renewed, TF) == NOW + 7200


def test_config_ids_and_slots_as_smartsessions_computes_them() -> None:
    pid = os.urandom(32)
    account = bytes.fromhex(ACCOUNT[2:])
    assert user_op_config_id(ACCOUNT, pid) == keccak(account + pid)
    action_id = keccak(bytes.fromhex(COUNTER[2:]) + INCREMENT)
    assert action_config_id(ACCOUNT, pid, COUNTER, INCREMENT) == keccak(account + keccak(pid + action_id))
    # Solidity's slot of mapping[a][b][c] at slot 0: keccak(c . keccak(b . keccak(a . 0)))
    config = os.urandom(32)
    mux = CANONICAL.smart_sessions
    inner = keccak(config + bytes(32))
    middle = keccak(encode(["address"], [mux]) + inner)
    assert mapping_slot(config, mux, ACCOUNT) == int.from_bytes(keccak(encode(["address"], [ACCOUNT]) + middle), "big")


def session_op(pid: bytes) -> UserOperation:
    account = StartaleAccount(ACCOUNT, node=None, chain_id=31337)
    validation = account.session_validation(pid)
    return UserOperation(
        sender=ACCOUNT,
        nonce=account.nonce_key(validation.validator) << 64,
        call_data=encode_execute([Call(COUNTER, 0, INCREMENT)]),
        signature=stub_signature(pid),
    )


class Counting(LocalBackend):
    def __init__(self, key: bytes) -> None:
        super().__init__(key, "local counting key")
        self.signs = 0

    def sign(self, digest: bytes) -> bytes:
        self.signs += 1
        return super().sign(digest)


@pytest.fixture
def counted(plugin_manager: pluggy.PluginManager) -> tuple[Signer, Counting, ScopeRegistry]:
    registry = ScopeRegistry()
    plugin_manager.register(SessionScopeCheck(registry, clock=lambda: NOW))
    backend = Counting(os.urandom(32))
    return Signer(backend, plugin_manager=plugin_manager), backend, registry


def test_a_revoked_permission_or_key_is_refused_before_any_signature(counted: Any) -> None:
    signer, backend, registry = counted
    session = session_for(signer.address)
    pid = registry.register(session, account=ACCOUNT, addresses=CANONICAL)
    signer.sign_user_operation(session_op(pid), CANONICAL.entry_point, 31337)
    assert backend.signs == 1
    registry.revoke(pid)
    with pytest.raises(ScopeViolationError, match=f"permission 0x{pid.hex()} was revoked"):
        signer.sign_user_operation(session_op(pid), CANONICAL.entry_point, 31337)
    other = registry.register(session_for(signer.address), account=ACCOUNT, addresses=CANONICAL)
    signer.sign_user_operation(session_op(other), CANONICAL.entry_point, 31337)
    registry.revoke_key(signer.address)
    with pytest.raises(ScopeViolationError, match=f"key {signer.address} was revoked"):
        signer.sign_user_operation(session_op(other), CANONICAL.entry_point, 31337)
    with pytest.raises(ScopeViolationError, match="is a session key"):
        signer.sign_message("anything else")
    assert backend.signs == 2


def test_limits_without_a_node_fail_closed_by_default(counted: Any, caplog: pytest.LogCaptureFixture) -> None:
    signer, backend, registry = counted
    pid = registry.register(session_for(signer.address, usage_limit=3), account=ACCOUNT, addresses=CANONICAL)
    with pytest.raises(LimitsUnavailableError, match=r"has on-chain limits \(UsageLimitPolicy\) and was registered "
                       "without a node to read them: failing closed"):  # fmt: skip
        signer.sign_user_operation(session_op(pid), CANONICAL.entry_point, 31337)
    assert backend.signs == 0
    with pytest.raises(ScopeViolationError, match="on_unreadable must be 'closed' or 'open'"):
        OnChainLimits(None, on_unreadable="ajar")  # type: ignore[arg-type]
    # a session without limit policies needs no node
    free = registry.register(session_for(signer.address), account=ACCOUNT, addresses=CANONICAL)
    signer.sign_user_operation(session_op(free), CANONICAL.entry_point, 31337)
    assert backend.signs == 1


# -- Backend.create_like: another key in the same custody ----------------------------------------------------
def check_new_key(uri: str, old: Signer) -> Signer:
    new = signers.load_signer(uri)
    assert new.address != old.address
    signature = new.sign_digest(b"\x07" * 32)
    assert signature.recover(b"\x07" * 32) == new.address
    return new


def test_create_like_local_keystore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSTORE_PASSWORD", "correct horse")
    path = tmp_path / "session.json"
    path.write_text(json.dumps(Account.encrypt(os.urandom(32), "correct horse", iterations=2)))
    with signers.load_signer(f"local:keystore:{path}?password-source=env:KEYSTORE_PASSWORD") as old:
        uri = old.backend.create_like("rotated")
        assert uri == f"local:keystore:{tmp_path / 'rotated.json'}?password-source=env:KEYSTORE_PASSWORD"
        assert "correct horse" not in (tmp_path / "rotated.json").read_text()
        check_new_key(uri, old).close()
    monkeypatch.setenv("SESSION_KEY", "0x" + os.urandom(32).hex())
    with signers.load_signer("local:env:SESSION_KEY") as env_key, pytest.raises(UnsupportedOperationError):
        env_key.backend.create_like()


def test_create_like_softhsm(pkcs11_key_uri: str) -> None:
    with signers.load_signer(pkcs11_key_uri) as old:
        uri = old.backend.create_like()
        assert uri.startswith("pkcs11:") and "pin-value" not in uri
        new = check_new_key(uri, old)
        attributes = new.backend.custody()["key"]["attributes"]  # generated on the token, sign-only
        assert (attributes["EXTRACTABLE"], attributes["SENSITIVE"], attributes["LOCAL"]) == (False, True, True)
        new.close()


def test_create_like_aws_kms(aws_kms_uri: str, localstack: Any) -> None:
    with signers.load_signer(aws_kms_uri) as old:
        uri = old.backend.create_like("rotated session key")
        new = check_new_key(uri, old)
        client = localstack.client()
        new_id = new.backend.describe_key()["KeyId"]
        old_id = old.backend.describe_key()["KeyId"]
        assert client.describe_key(KeyId=new_id)["KeyMetadata"]["Description"] == "rotated session key"
        policies = [client.get_key_policy(KeyId=k, PolicyName="default")["Policy"] for k in (old_id, new_id)]
        assert json.loads(policies[0]) == json.loads(policies[1])
        new.close()


def test_create_like_gcp_kms(gcp_kms_uri: str) -> None:
    with signers.load_signer(gcp_kms_uri) as old:
        uri = old.backend.create_like()
        assert uri.startswith("gcp-kms://") and uri.split("?")[0].endswith("/cryptoKeyVersions/1")
        new = check_new_key(uri, old)
        assert new.backend.custody()["protection_level"] == old.backend.custody()["protection_level"]
        new.close()


# -- the CLI's errors before any chain is reached -----------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_usage_and_unreachable_node() -> None:
    runner = CliRunner()
    node = f"http://127.0.0.1:{closed_port()}"
    base = ["--rpc-url", node, "--account", ACCOUNT]
    usage = runner.invoke(cli, ["sessions", "revoke", *base, "--bundler-url", node, "--owner", "local:env:X"])
    assert usage.exit_code == 2 and "exactly one of --session-key, --permission-id" in usage.stderr
    down = runner.invoke(cli, ["sessions", "list", *base, "--json"])
    assert down.exit_code == 1 and down.stderr.startswith("error: eth_chainId: cannot reach")
    assert down.stdout == ""
    bad = runner.invoke(cli, ["sessions", "list", "--rpc-url", node, "--account", "0x1234"])
    assert bad.exit_code == 1 and "--account and --owner-validator must be 20-byte hex addresses" in bad.stderr
    rotate = runner.invoke(cli, ["sessions", "rotate", *base, "--bundler-url", node, "--owner", "local:env:X",
                                 "--permission-id", "0x" + "00" * 32, "--session-key-uri", "local:env:X",
                                 "--valid-for", "10", "--test-call", f"{COUNTER}:0xd09de08a"])  # fmt: skip
    assert rotate.exit_code == 2 and "--valid-for" in rotate.stderr
