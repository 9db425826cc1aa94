"""On-chain limits known before signing (issue 14, item 2), on the local chain: the owner key in LocalStack KMS, session
keys in SoftHSM, the real SmartSession module calling the policies at their canonical addresses.

The scope check reads UsageLimitPolicy's count, ValueLimitPolicy's spent value and ERC20SpendingLimitPolicy's spent
amount through the node, and refuses the op past a limit before the session key signs: the audit trail shows the
refusal and no signature, and the chain state shows the limit untouched.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector as selector

import signers
from demo.onchain import INCREMENT, Chain
from signers.aa import (
    SCOPES,
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    NexusAccount,
    NodeClient,
    ScopeRegistry,
    SessionScopeCheck,
    TokenLimit,
    build_user_operation,
    grant_permission,
    random_nonce_key,
    send_session_user_operation,
)
from signers.aa.errors import LimitsUnavailableError, SessionLimitError
from signers.aa.limits import action_config_id
from signers.audit import AuditTrail
from signers.signer import Signer
from tests.e2e.helpers import TRANSFER, balance_of, draft, signed, transfer

INCREMENT_PAYABLE = selector("incrementPayable()")


def grant(chain: Chain, account: NexusAccount, owner: Signer, key: Signer, *infos: ActionPolicyInfo) -> bytes:
    """One permission for ``key`` with these actions, granted on an account with Smart Sessions installed."""
    granted = grant_permission(account, owner, chain.bundler, CreateSessionDataParams(key.address, infos))
    assert granted.receipt is not None and granted.receipt["success"] is True
    (pid,) = granted.permission_ids
    return pid


@pytest.mark.usefixtures("installed")
def test_usage_limit_three_the_fourth_op_is_refused_before_signing(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    counter: str,
    audit: AuditTrail,
) -> None:
    pid = grant(chain, account, owner, session_key, ActionPolicyInfo(counter, INCREMENT, usage_limit=3))
    for n in range(1, 4):
        result = send_session_user_operation(account, session_key, chain.bundler, pid, [Call(counter, 0, INCREMENT)])
        assert result.receipt is not None and result.receipt["success"] is True
        assert chain.counter_value(counter) == n
    # what the check reads is what the chain holds: 3 of 3 used (the local stand-in's own getter, `usages`)
    config = action_config_id(account.address, pid, counter, INCREMENT)
    getter = selector("usages(bytes32,address,address)") + encode(
        ["bytes32", "address", "address"], [config, chain.book.smart_sessions, account.address]
    )
    assert decode(["uint128", "uint128"], chain.node.call(chain.book.usage_limit_policy, getter)) == (3, 3)

    with pytest.raises(SessionLimitError) as refused:
        send_session_user_operation(account, session_key, chain.bundler, pid, [Call(counter, 0, INCREMENT)])
    message = str(refused.value)
    assert "UsageLimitPolicy" in message and chain.book.usage_limit_policy in message
    assert "limit 3 uses, 3 used, 0 left" in message and "nothing was signed" in message
    assert chain.counter_value(counter) == 3
    assert len(signed(audit, session_key)) == 3  # the key signed the three ops, not the fourth
    refusals = audit.entries(address=session_key.address, outcome="refused")
    assert refusals and "SessionLimitError" in (refusals[-1].reason or "")


@pytest.mark.usefixtures("installed")
def test_value_limit_the_op_past_it_is_refused_before_signing(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    counter: str,
    audit: AuditTrail,
) -> None:
    pid = grant(chain, account, owner, session_key, ActionPolicyInfo(counter, INCREMENT_PAYABLE, value_limit=100))
    for value in (60, 40):
        result = send_session_user_operation(
            account, session_key, chain.bundler, pid, [Call(counter, value, INCREMENT_PAYABLE)]
        )
        assert result.receipt is not None and result.receipt["success"] is True
    assert chain.node.get_balance(counter) == 100

    # 1 wei is within the grant's own bound (the local check alone would let it through) but past what is left
    with pytest.raises(SessionLimitError) as refused:
        send_session_user_operation(account, session_key, chain.bundler, pid, [Call(counter, 1, INCREMENT_PAYABLE)])
    message = str(refused.value)
    assert "ValueLimitPolicy" in message and "limit 100 wei, 100 used, 0 left; this op needs 1" in message
    assert chain.node.get_balance(counter) == 100
    assert len(signed(audit, session_key)) == 2


@pytest.mark.usefixtures("installed")
def test_erc20_spending_limit_the_transfer_past_it_is_refused_before_signing(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    token: str,
    recipient: str,
    audit: AuditTrail,
) -> None:
    limit = ActionPolicyInfo(token, TRANSFER, token_limits=[TokenLimit(token, 100)])
    pid = grant(chain, account, owner, session_key, limit)

    def to_recipient(amount: int) -> Call:
        return Call(token, 0, transfer(recipient, amount))

    for amount in (60, 30):
        result = send_session_user_operation(account, session_key, chain.bundler, pid, [to_recipient(amount)])
        assert result.receipt is not None and result.receipt["success"] is True
    with pytest.raises(SessionLimitError) as refused:
        send_session_user_operation(account, session_key, chain.bundler, pid, [to_recipient(11)])
    message = str(refused.value)
    assert "ERC20SpendingLimitPolicy" in message and f"token {token}" in message
    assert "limit 100 token units, 90 used, 10 left; this op needs 11" in message
    # what is left still goes through
    result = send_session_user_operation(account, session_key, chain.bundler, pid, [to_recipient(10)])
    assert result.receipt is not None and result.receipt["success"] is True
    balance = balance_of(chain, token, recipient)
    assert balance == 100
    assert len(signed(audit, session_key)) == 3


# What another process runs: the same session key (SoftHSM), the Session handed over as JSON, two ops.
OTHER_PROCESS = """
import json, sys
import signers
from signers.aa import BundlerClient, Call, NodeClient, SmartAccount, Session, register_session
from signers.aa import send_session_user_operation
args = json.loads(sys.argv[1])
node = NodeClient(args["rpc"])
account = SmartAccount(args["account"], node=node, owner_validator=args["owner_validator"], chain_id=args["chain_id"])
register_session(Session.from_dict(args["session"]), account=args["account"], node=node)
with signers.load_signer(args["key"]) as key, BundlerClient(args["bundler"]) as bundler:
    for _ in range(args["ops"]):
        result = send_session_user_operation(account, key, bundler, bytes.fromhex(args["pid"]),
                                             [Call(args["counter"], 0, bytes.fromhex(args["data"]))])
        assert result.receipt["success"] is True
"""


@pytest.mark.usefixtures("installed")
def test_another_process_ops_are_seen_once_the_cache_is_older_than_its_bound(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    softhsm: Any,
    counter: str,
) -> None:
    """Another process uses the limit up with the same key: nothing tells this process's cache. Within its bound
    (``limits_max_age``) the cached read serves; once older, the check reads the chain again and refuses."""
    key_uri = softhsm.generate_key()
    with signers.load_signer(key_uri) as key:
        pid = grant(chain, account, owner, key, ActionPolicyInfo(counter, INCREMENT, usage_limit=2))
    session = chain_session(pid)
    mine = ScopeRegistry()
    mine.register(session, account=account.address, addresses=chain.book, node=chain.node, limits_max_age=5.0)
    scope = mine.get(pid)
    assert scope is not None
    now = [1000.0]
    scope.limits.clock = lambda: now[0]  # the cache's age, without waiting for it
    check = SessionScopeCheck(mine)
    op = draft(account, pid, [Call(counter, 0, INCREMENT)])
    check.check(op, chain.chain_id, signer=key.address)  # reads: 0 of 2 used
    assert scope.limits.reads == 1

    args = {"rpc": chain.node.url, "bundler": chain.bundler.rpc.url, "account": account.address,
            "owner_validator": account.owner_validator, "chain_id": chain.chain_id, "session": session.to_dict(),
            "key": key_uri, "pid": pid.hex(), "counter": counter, "data": INCREMENT.hex(), "ops": 2}  # fmt: skip
    env = {**os.environ, **softhsm.environ()}
    other = subprocess.run([sys.executable, "-c", OTHER_PROCESS, json.dumps(args)], env=env, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert chain.counter_value(counter) == 2  # the other process used the limit up

    now[0] += 4.0  # within the bound: the cached read serves (the chain would still refuse the op: AA23)
    check.check(op, chain.chain_id, signer=key.address)
    assert scope.limits.reads == 1
    now[0] += 2.0  # older than the bound: read again before signing, and refuse
    with pytest.raises(SessionLimitError, match="limit 2 uses, 2 used, 0 left"):
        check.check(op, chain.chain_id, signer=key.address)
    assert scope.limits.reads == 2


@pytest.mark.usefixtures("installed")
def test_ops_signed_and_not_yet_included_count_as_used(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    counter: str,
    audit: AuditTrail,
) -> None:
    """Several ops in flight at once: each op signed here counts until the EntryPoint's nonce passes it."""
    pid = grant(chain, account, owner, session_key, ActionPolicyInfo(counter, INCREMENT, usage_limit=2))
    validation = account.session_validation(pid)
    in_flight = []
    for _ in range(2):  # signed, not sent: the chain has not seen them
        op = build_user_operation(account, [Call(counter, 0, INCREMENT)], validation, chain.bundler,
                                  nonce_key=random_nonce_key(), deploy=False)  # fmt: skip
        in_flight.append(account.sign_user_operation(op, session_key, validation))
    with pytest.raises(SessionLimitError, match=r"limit 2 uses, 2 used \(2 by ops signed here, not yet included\)"):
        send_session_user_operation(account, session_key, chain.bundler, pid, [Call(counter, 0, INCREMENT)])
    for op in in_flight:  # now they land: the chain counts them, and they stop being pending
        receipt = chain.bundler.wait_for_receipt(chain.bundler.send_user_operation(op, account.entry_point))
        assert receipt["success"] is True
    scope_of(pid).limits.invalidate(account.address)  # (ops sent by hand: the flows' own ops do this)
    with pytest.raises(SessionLimitError) as refused:
        send_session_user_operation(account, session_key, chain.bundler, pid, [Call(counter, 0, INCREMENT)])
    assert "limit 2 uses, 2 used, 0 left" in str(refused.value)  # read again: on chain now, no longer pending
    assert chain.counter_value(counter) == 2
    assert len(signed(audit, session_key)) == 2


def scope_of(pid: bytes) -> Any:
    scope = SCOPES.get(pid)
    assert scope is not None
    return scope


def chain_session(pid: bytes) -> Any:
    return scope_of(pid).session


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.usefixtures("installed")
def test_node_down_or_missing_fails_closed_by_default_and_open_when_configured(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    counter: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pid = grant(chain, account, owner, session_key, ActionPolicyInfo(counter, INCREMENT, usage_limit=5))
    session = chain_session(pid)
    op = draft(account, pid, [Call(counter, 0, INCREMENT)])
    down = NodeClient(f"http://127.0.0.1:{closed_port()}", timeout=2.0)
    try:
        closed = ScopeRegistry()
        closed.register(session, account=account.address, addresses=chain.book, node=down)
        with pytest.raises(LimitsUnavailableError) as unreadable:
            SessionScopeCheck(closed).check(op, chain.chain_id, signer=session_key.address)
        assert "UsageLimitPolicy state cannot be read" in str(unreadable.value)
        assert "failing closed (on_unreadable='closed')" in str(unreadable.value)

        missing = ScopeRegistry()
        missing.register(session, account=account.address, addresses=chain.book)
        with pytest.raises(LimitsUnavailableError, match="registered without a node to read them: failing closed"):
            SessionScopeCheck(missing).check(op, chain.chain_id, signer=session_key.address)

        opened = ScopeRegistry()
        opened.register(session, account=account.address, addresses=chain.book, node=down, on_unreadable="open")
        with caplog.at_level(logging.WARNING, logger="signers.aa.limits"):
            SessionScopeCheck(opened).check(op, chain.chain_id, signer=session_key.address)  # signs, with a warning
        assert "failing open (on_unreadable='open')" in caplog.text
    finally:
        down.close()
