"""Set-up the end-to-end tests share, so each test reads as what it checks: installing Smart Sessions, a spy on the
HSM backend, the session op the flows would sign next (or one built by hand), what a key signed according to the
audit trail, and the stack's ERC-20 TestToken (mint, transfer, balance)."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector as selector

from demo.onchain import Chain
from signers.aa import Call, NexusAccount, UserOperation, Validation, install_smart_sessions
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


def hand_built(account: NexusAccount, validation: Validation, calls: list[Call]) -> UserOperation:
    """A session op built by hand, past the flows (no bundler estimate): gas enough for any op here, ENABLE mode's
    verification included, and fees the local chain accepts."""
    return UserOperation(
        sender=account.address,
        nonce=account.get_nonce(validation.validator),
        call_data=account.encode_calls(calls),
        call_gas_limit=200_000,
        verification_gas_limit=2_000_000,
        pre_verification_gas=200_000,
        max_fee_per_gas=10**9,
        max_priority_fee_per_gas=10**9,
    )


def signed(audit: AuditTrail, signer: Signer) -> list[AuditEntry]:
    """What ``signer`` signed, by the audit trail."""
    return audit.entries(address=signer.address, outcome="signed")


TRANSFER = selector("transfer(address,uint256)")


def transfer(to: str, amount: int) -> bytes:
    """ERC-20 transfer(to, amount) call data."""
    return TRANSFER + encode(["address", "uint256"], [to, amount])


def mint(chain: Chain, token: str, to: str, amount: int) -> None:
    """Mints ``amount`` of the chain stack's TestToken (anyone may mint it) to ``to``."""
    chain.transact({"to": token, "data": "0x" + (selector("mint(address,uint256)") + encode(
        ["address", "uint256"], [to, amount])).hex()})  # fmt: skip


def balance_of(chain: Chain, token: str, holder: str) -> int:
    data = selector("balanceOf(address)") + encode(["address"], [holder])
    (value,) = decode(["uint256"], chain.node.call(token, data))
    return int(value)
