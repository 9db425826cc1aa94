"""Set-up the end-to-end tests share, so each test reads as what it checks: installing Smart Sessions, a spy on the
HSM backend, the session op the flows would sign next, and what a key signed according to the audit trail."""

from __future__ import annotations

import pytest

from demo.onchain import Chain
from signers.aa import Call, NexusAccount, UserOperation, install_smart_sessions
from signers.audit import AuditEntry, AuditTrail
from signers.signer import Signer


def install(chain: Chain, account: NexusAccount, owner: Signer) -> None:
    """The owner's op that installs Smart Sessions (and deploys the account if it is counterfactual), landed."""
    installed = install_smart_sessions(account, owner, chain.bundler)
    assert installed.receipt is not None and installed.receipt["success"] is True


def spy_on_device(monkeypatch: pytest.MonkeyPatch, signer: Signer) -> list[bytes]:
    """Counts what the real HSM backend is asked to sign (then signs it)."""
    calls: list[bytes] = []
    device_sign = signer.backend.sign

    def counted(digest: bytes) -> bytes:
        calls.append(digest)
        return device_sign(digest)

    monkeypatch.setattr(signer.backend, "sign", counted)
    return calls


def draft(account: NexusAccount, pid: bytes, calls: list[Call]) -> UserOperation:
    """The session op the flows would price and sign next (no gas yet: the scope and limit checks do not need it)."""
    validation = account.session_validation(pid)
    return UserOperation(
        sender=account.address,
        nonce=account.get_nonce(validation.validator),
        call_data=account.encode_calls(calls),
        signature=validation.stub,
    )


def signed(audit: AuditTrail, signer: Signer) -> list[AuditEntry]:
    """What ``signer`` signed, by the audit trail."""
    return audit.entries(address=signer.address, outcome="signed")
