"""SigningPool signs through the calling process's request path: its registered sessions, its audit trail.

The workers only produce raw signatures; the policies, the conversion with its self-check and the audit
trail run in this process (issue 15 item 1: before, a worker had its own empty scope registry and hooks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from eth_hash.auto import keccak
from signers_pkcs11.pool import SigningPool

import signers
from signers.aa import (
    CANONICAL,
    SCOPES,
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    ScopeViolationError,
    StartaleAccount,
    UserOperation,
    encode_execute,
    prepare_sessions,
    register_session,
)
from signers.audit import AuditTrail
from signers.hashing import personal_sign_hash
from tests.fixtures.softhsm import SoftHSMToken

ACCOUNT = "0x1111111111111111111111111111111111111111"
TOKEN = "0x2222222222222222222222222222222222222222"
OTHER = "0x5555555555555555555555555555555555555555"
TRANSFER = bytes.fromhex("a9059cbb")


def _register_session_key(address: str) -> bytes:
    """Register a session (transfer() on TOKEN only) whose key is ``address``; its permission id."""
    now = int(time.time())
    params = CreateSessionDataParams(
        session_public_key=address,
        salt=keccak(address.encode()),
        session_valid_until=now + 3600,
        session_valid_after=now - 3600,
        action_policies_info=[ActionPolicyInfo(TOKEN, TRANSFER, valid_until=now + 3600)],
    )
    return register_session(prepare_sessions([params], chain_id=31337).sessions[0], account=ACCOUNT)


def _out_of_scope_op_digest() -> bytes:
    """personal_sign over the userOpHash of a session op that sends 1 ETH to an address the session never got."""
    account = StartaleAccount(ACCOUNT, node=None, chain_id=31337)
    op = UserOperation(
        sender=ACCOUNT,
        nonce=account.nonce_key(CANONICAL.smart_sessions) << 64,
        call_data=encode_execute([Call(OTHER, 10**18, b"")]),
    )
    return personal_sign_hash(account.user_op_hash(op))


@pytest.fixture
def session_key_uri(pkcs11_key_uri: str) -> Iterator[str]:
    """A fresh pkcs11 key registered (in the process-wide registry) as a session key."""
    permission = _register_session_key(signers.load_signer(pkcs11_key_uri).address)
    yield pkcs11_key_uri
    SCOPES.unregister(permission)


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[AuditTrail]:
    trail = AuditTrail(tmp_path / "audit.db").enable()
    yield trail
    trail.disable()
    trail.close()


def test_a_session_keys_out_of_scope_op_digest_is_refused_by_the_pool_as_by_sign_digest(session_key_uri: str) -> None:
    digest = _out_of_scope_op_digest()
    with pytest.raises(ScopeViolationError) as direct:
        signers.load_signer(session_key_uri).sign_digest(digest)
    with SigningPool(session_key_uri, processes=1) as pool:
        with pytest.raises(ScopeViolationError) as pooled:
            pool.sign_digest(digest)
        assert type(pooled.value) is type(direct.value) and str(pooled.value) == str(direct.value)
        # in a batch, one refused digest and nothing is signed: the others are not returned either
        with pytest.raises(ScopeViolationError):
            pool.sign_digests([keccak(b"harmless"), digest])
        # every Signer surface goes through the pool, with the same policy
        with pytest.raises(ScopeViolationError):
            pool.signer.sign_message(b"hello")


def test_the_parents_audit_trail_records_every_pool_signature(pkcs11_key_uri: str, trail: AuditTrail) -> None:
    digests = [keccak(b"audited %d" % i) for i in range(24)]
    with SigningPool(pkcs11_key_uri, processes=2) as pool:
        signatures = pool.sign_digests(digests)
        single = pool.sign_digest(keccak(b"one more"))
        address = pool.address
    assert all(s.recover(d) == address for s, d in zip(signatures, digests, strict=True))
    assert single.recover(keccak(b"one more")) == address
    entries = trail.entries(address=address)
    assert [e.outcome for e in entries] == ["signed"] * 25
    expected = [("0x" + d.hex(), s.to_hex()) for d, s in zip(digests, signatures, strict=True)]
    expected.append(("0x" + keccak(b"one more").hex(), single.to_hex()))
    assert [(e.digest, e.signature) for e in entries] == expected
    assert {e.backend for e in entries} == {signers.load_signer(pkcs11_key_uri).backend.describe()}


def test_a_refusal_through_the_pool_is_recorded_as_refused(session_key_uri: str, trail: AuditTrail) -> None:
    digest = _out_of_scope_op_digest()
    with SigningPool(session_key_uri, processes=1) as pool:
        with pytest.raises(ScopeViolationError):
            pool.sign_digest(digest)
        address = pool.address
    entries = trail.entries(address=address)
    assert [(e.outcome, e.digest) for e in entries] == [("refused", "0x" + digest.hex())]
    assert entries[0].signature is None and "session key" in (entries[0].reason or "")


def test_a_failure_in_a_worker_is_recorded_as_failed_in_the_parent(softhsm: SoftHSMToken, trail: AuditTrail) -> None:
    label = softhsm.new_label("pool-deleted")
    uri = softhsm.generate_key(label)
    digest = keccak(b"after delete")
    with SigningPool(uri, processes=1) as pool:
        with softhsm.session() as session:  # the key is deleted from the token under the running worker
            for obj in session.get_objects({pkcs11.Attribute.LABEL: label}):
                obj.destroy()
        with pytest.raises(signers.SignerError) as failed:
            pool.sign_digest(digest)
        address = pool.address
    entries = trail.entries(address=address)
    assert [(e.outcome, e.digest) for e in entries] == [("failed", "0x" + digest.hex())]
    assert type(failed.value).__name__ in (entries[0].reason or "")
