"""The Smart Sessions flows end to end, keys in custody, on the local chain stack (chain/README.md).

The owner key is a secp256k1 key in LocalStack KMS; session keys are generated inside SoftHSM. Every op goes
through the real Alto bundler and EntryPoint v0.7 to a Nexus 1.0.1 account. Each test asserts the chain
(Counter state by eth_call, bundler receipts, transaction receipts) and the audit trail, which must match the
chain: every signed userOpHash has a successful receipt, unless the test saw the bundler refuse that very op.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from demo.onchain import INCREMENT, SET_NUMBER, Chain, audit_mismatches
from signers.aa import (
    Call,
    NexusAccount,
    ScopeViolationError,
    SignatureCheckFailedError,
    UserOperationRejectedError,
    install_smart_sessions,
    is_smart_sessions_installed,
    revoke_permission,
    send_session_user_operation,
    split_nonce,
)
from signers.audit import AuditTrail
from signers.hashing import personal_sign_hash
from signers.signature import Signature
from signers.signer import Signer
from tests.e2e.conftest import Granted, grant_increment
from tests.e2e.helpers import hand_built, signed, spy_on_device

PARALLEL_OPS = 4


def increment(chain: Chain, g: Granted, counter: str, **options: Any) -> dict[str, Any]:
    """One session op calling counter.increment(), signed by the session key only; its receipt, checked."""
    result = send_session_user_operation(
        g.account, g.session_key, chain.bundler, g.permission_id, [Call(counter, 0, INCREMENT)], **options
    )
    receipt = result.receipt
    assert receipt is not None and receipt["success"] is True
    assert receipt["userOpHash"] == "0x" + result.user_op_hash.hex()
    assert split_nonce(result.user_operation.nonce)[2] == chain.book.smart_sessions
    assert chain.transaction_status(receipt["receipt"]["transactionHash"]) == 1
    digest = personal_sign_hash(g.account.user_op_hash(result.user_operation))
    assert Signature.from_bytes(result.user_operation.signature[33:]).recover(digest) == g.session_key.address
    return receipt


def test_counterfactual_account_then_session_ops_without_the_owner(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    counter: str,
    audit: AuditTrail,
    localstack: Any,
) -> None:
    owner_custody, session_custody = owner.backend.custody(), session_key.backend.custody()
    assert owner_custody["custody"] == "AWS KMS" and owner_custody["address"] == owner.address
    assert session_custody["custody"].startswith("PKCS#11") and session_custody["address"] == session_key.address
    assert session_custody["key"]["attributes"]["EXTRACTABLE"] is False
    assert session_custody["key"]["attributes"]["LOCAL"] is True  # generated on the device

    # the first owner op deploys the account (factory data) and installs Smart Sessions
    assert is_smart_sessions_installed(account) is False
    installed = install_smart_sessions(account, owner, chain.bundler)
    assert installed.user_operation.factory == chain.nexus_factory
    assert installed.receipt is not None and installed.receipt["success"] is True
    assert account.is_deployed() and is_smart_sessions_installed(account)
    g = Granted(account, session_key, *grant_increment(chain, account, owner, session_key, counter))
    owner_entries = signed(audit, owner)
    assert len(owner_entries) == 2

    # the owner key goes offline in KMS: session ops must not need it
    kms = localstack.client()
    kms.disable_key(KeyId=owner_custody["key_id"])
    try:
        assert chain.counter_value(counter) == 0
        for n in range(1, 4):
            increment(chain, g, counter)
            assert chain.counter_value(counter) == n
        assert chain.counter_last_caller(counter) == account.address
    finally:
        kms.enable_key(KeyId=owner_custody["key_id"])

    assert signed(audit, owner) == owner_entries  # the owner signed nothing during the session ops
    assert len(signed(audit, session_key)) == 3
    assert audit.entries(outcome="refused") == []
    assert audit_mismatches(audit.entries(), chain.bundler) == []


def test_out_of_scope_call_refused_locally_then_by_the_chain(
    chain: Chain, granted: Granted, counter: str, audit: AuditTrail, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = granted
    out_of_scope = [Call(counter, 0, SET_NUMBER + (7).to_bytes(32, "big"))]
    device_calls = spy_on_device(monkeypatch, g.session_key)

    # 1. the flow's own check refuses before gas estimation: nothing signed, nothing sent
    with pytest.raises(ScopeViolationError, match="outside session") as refused:
        send_session_user_operation(g.account, g.session_key, chain.bundler, g.permission_id, out_of_scope)
    assert refused.value.call_index == 0

    # 2. an op built by hand and signed directly: the before_sign hook refuses it, and the audit trail records
    #    the refusal (no signature)
    validation = g.account.session_validation(g.permission_id)
    op = hand_built(g.account, validation, out_of_scope)
    with pytest.raises(ScopeViolationError, match="outside session"):
        g.account.sign_user_operation(op, g.session_key, validation)
    assert device_calls == []  # the HSM was never asked, in either case
    assert signed(audit, g.session_key) == []
    refusals = audit.entries(address=g.session_key.address, outcome="refused")
    assert all(e.signature is None and "outside session" in str(e.reason) for e in refusals)
    hand_built_hash = "0x" + g.account.user_op_hash(op.replace(signature=validation.stub)).hex()
    assert hand_built_hash in [e.context["user_op_hash"] for e in refusals]

    # 3. with the local check off the op reaches the bundler, whose simulation of SmartSession refuses it
    with pytest.raises(UserOperationRejectedError) as rejected:
        send_session_user_operation(
            g.account, g.session_key, chain.bundler, g.permission_id, out_of_scope, scope_check=False
        )
    assert rejected.value.aa_code == "AA23" and rejected.value.code == -32500
    assert chain.counter_value(counter) == 0
    assert signed(audit, g.session_key) == []

    # the granted call still works
    increment(chain, g, counter)
    assert chain.counter_value(counter) == 1
    assert audit_mismatches(audit.entries(), chain.bundler) == []


@pytest.mark.usefixtures("installed")
def test_expired_session_refused_locally_and_by_the_entry_point(
    chain: Chain,
    account: NexusAccount,
    owner: Signer,
    session_key: Signer,
    counter: str,
    audit: AuditTrail,
) -> None:
    chain_now = int(chain.node.request("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    expired_at = min(chain_now, int(time.time())) - 3600
    pid, session = grant_increment(chain, account, owner, session_key, counter, session_valid_until=expired_at)
    g = Granted(account, session_key, pid, session)

    with pytest.raises(ScopeViolationError, match=f"expired at {expired_at}"):
        increment(chain, g, counter)
    assert signed(audit, session_key) == []

    # without the local check: signed, then refused by the EntryPoint's validity window (AA22)
    with pytest.raises(UserOperationRejectedError) as rejected:
        increment(chain, g, counter, scope_check=False)
    assert rejected.value.aa_code == "AA22"
    (refused_op,) = signed(audit, session_key)
    assert chain.bundler.get_user_operation_receipt(str(refused_op.context["user_op_hash"])) is None
    assert chain.counter_value(counter) == 0
    assert audit_mismatches(audit.entries(), chain.bundler, refused=[refused_op]) == []


def test_revoked_session_key_refused(
    chain: Chain, owner: Signer, granted: Granted, counter: str, audit: AuditTrail
) -> None:
    g = granted
    increment(chain, g, counter)
    revoked = revoke_permission(g.account, owner, chain.bundler, g.permission_id)
    assert revoked.receipt is not None and revoked.receipt["success"] is True
    assert g.account.is_permission_enabled(g.permission_id) is False

    # locally: the revoked permission is no longer known, so the check fails closed
    with pytest.raises(ScopeViolationError, match="not known locally"):
        increment(chain, g, counter)
    # on chain: SmartSession refuses the removed permission in validation
    with pytest.raises(UserOperationRejectedError) as rejected:
        increment(chain, g, counter, scope_check=False)
    assert rejected.value.aa_code == "AA23"
    assert chain.counter_value(counter) == 1
    assert len(signed(audit, g.session_key)) == 1
    assert audit_mismatches(audit.entries(), chain.bundler) == []


def test_rotate_session_key(
    chain: Chain,
    owner: Signer,
    granted: Granted,
    session_keys: Callable[[], Signer],
    counter: str,
    audit: AuditTrail,
) -> None:
    old = granted
    increment(chain, old, counter)

    # a new key generated in the HSM, a new grant, then the old permission revoked
    new_key = session_keys()
    assert new_key.address != old.session_key.address
    pid, session = grant_increment(chain, old.account, owner, new_key, counter)
    new = Granted(old.account, new_key, pid, session)
    assert revoke_permission(old.account, owner, chain.bundler, old.permission_id).receipt is not None
    assert old.account.is_permission_enabled(old.permission_id) is False
    assert old.account.is_permission_enabled(new.permission_id) is True

    with pytest.raises(UserOperationRejectedError) as rejected:
        increment(chain, old, counter, scope_check=False)
    assert rejected.value.aa_code == "AA23"
    # the old key under the new permission: the HSM signs, and the EntryPoint refuses the signature (the
    # permission's session validator owns only the new key)
    with pytest.raises(SignatureCheckFailedError) as wrong_key:
        send_session_user_operation(
            old.account, old.session_key, chain.bundler, new.permission_id, [Call(counter, 0, INCREMENT)],
            scope_check=False,
        )  # fmt: skip
    assert wrong_key.value.aa_code == "AA24"

    increment(chain, new, counter)
    assert chain.counter_value(counter) == 2
    assert chain.counter_last_caller(counter) == old.account.address
    assert len(signed(audit, new_key)) == 1
    # the old key's first op landed; what it signed after the rotation, the bundler refused. That op and the
    # new key's op usually share their userOpHash (same nonce, calls, gas and fees; the hash excludes the
    # signature): the audit check tells them apart by the signature found on chain.
    _, after_rotation = signed(audit, old.session_key)
    assert audit_mismatches(audit.entries(), chain.bundler, refused=[after_rotation]) == []
    assert audit_mismatches(audit.entries(), chain.bundler) != []  # the refused signature is not on chain


def test_parallel_session_ops_on_distinct_nonce_keys(
    chain: Chain, granted: Granted, counter: str, audit: AuditTrail
) -> None:
    g = granted

    def send(_: int) -> Any:
        return send_session_user_operation(
            g.account, g.session_key, chain.bundler, g.permission_id, [Call(counter, 0, INCREMENT)],
            parallel=True, wait=False,
        )  # fmt: skip

    with ThreadPoolExecutor(PARALLEL_OPS) as pool:
        pending = list(pool.map(send, range(PARALLEL_OPS)))
    keys = {split_nonce(p.user_operation.nonce)[0] for p in pending}
    assert len(keys) == PARALLEL_OPS and 0 not in keys
    assert all(split_nonce(p.user_operation.nonce)[3] == 0 for p in pending)  # each key's first op
    receipts = [chain.bundler.wait_for_receipt(p.user_op_hash, timeout=60) for p in pending]
    assert all(r["success"] is True for r in receipts)
    assert chain.counter_value(counter) == PARALLEL_OPS
    assert len(signed(audit, g.session_key)) == PARALLEL_OPS
    assert audit_mismatches(audit.entries(), chain.bundler) == []


def test_batch_session_op_runs_every_call(chain: Chain, granted: Granted, counter: str, audit: AuditTrail) -> None:
    """One session op executing a batch (ERC-7579 batch mode): each call is checked against the scope, then
    all land in one transaction."""
    calls = [Call(counter, 0, INCREMENT)] * 3
    result = send_session_user_operation(
        granted.account, granted.session_key, chain.bundler, granted.permission_id, calls
    )
    assert result.receipt is not None and result.receipt["success"] is True
    assert chain.counter_value(counter) == 3
    out_of_scope = [Call(counter, 0, INCREMENT), Call(counter, 0, SET_NUMBER + bytes(32))]
    with pytest.raises(ScopeViolationError, match="call #1 ") as caught:
        send_session_user_operation(
            granted.account, granted.session_key, chain.bundler, granted.permission_id, out_of_scope
        )
    assert caught.value.call_index == 1 and chain.counter_value(counter) == 3
    assert [e.context["user_op_hash"] for e in signed(audit, granted.session_key)] == ["0x" + result.user_op_hash.hex()]
