"""Fixtures of the end-to-end tests: the chain stack, the owner key in LocalStack KMS, session keys generated in
SoftHSM, a Counter and a counterfactual account of each test's own, and an audit trail per test.

Every service is real and started by the shared session fixtures (tests/fixtures/*.py); nothing is mocked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address

import signers
from demo.onchain import INCREMENT, Chain
from signers.aa import (
    ActionPolicyInfo,
    BundlerClient,
    CreateSessionDataParams,
    NexusAccount,
    NodeClient,
    Session,
    enable_scope_check,
    grant_permission,
)
from signers.audit import AuditTrail
from signers.signer import Signer
from tests.e2e.helpers import install, mint
from tests.fixtures.chain import ChainStack


@pytest.fixture(scope="session")
def chain(chain_stack: ChainStack) -> Iterator[Chain]:
    world = Chain(
        node=NodeClient(chain_stack.rpc_url),
        bundler=BundlerClient(chain_stack.bundler_url),
        chain_id=chain_stack.chain_id,
        book=chain_stack.address_book(),
        k1_validator=chain_stack.k1_validator,
        nexus_bootstrap=chain_stack.nexus_bootstrap,
        nexus_factory=chain_stack.nexus_factory,
        funder=chain_stack.accounts[-1].address,  # unlocked in anvil; other test folders start from the first
    )
    assert world.bundler.supported_entry_points() == [world.book.entry_point]
    enable_scope_check()  # the before_sign hook on the global plugin manager, as send_session_user_operation does
    try:
        yield world
    finally:
        world.close()


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditTrail]:
    """This test's audit trail, on the global plugin manager (where load_signer's signers report)."""
    trail = AuditTrail(tmp_path / "audit.sqlite").enable()
    try:
        yield trail
    finally:
        trail.disable()
        trail.close()


@pytest.fixture
def owner(aws_kms_uri: str, audit: AuditTrail) -> Iterator[Signer]:
    """The account owner: a fresh secp256k1 key in LocalStack KMS."""
    signer = signers.load_signer(aws_kms_uri)
    try:
        yield signer
    finally:
        signer.close()


@pytest.fixture
def session_keys(softhsm: Any, audit: AuditTrail) -> Iterator[Callable[[], Signer]]:
    """Makes session keys: each a secp256k1 key generated inside the SoftHSM token (never extractable)."""
    made: list[Signer] = []

    def make() -> Signer:
        signer = signers.load_signer(softhsm.generate_key())
        made.append(signer)
        return signer

    try:
        yield make
    finally:
        for signer in made:
            signer.close()


@pytest.fixture
def counter(chain: Chain) -> str:
    """A Counter of this test's own: other tests (and other sessions on the same anvil) never touch it."""
    return chain.deploy_counter()


@pytest.fixture
def account(chain: Chain, owner: Signer) -> NexusAccount:
    """The owner's counterfactual Nexus account, funded for its prefunds but not deployed."""
    account = chain.new_account(owner.address)
    assert not account.is_deployed()
    chain.fund(account.address)
    return account


@dataclass
class Granted:
    """An installed account with one session granted for Counter.increment()."""

    account: NexusAccount
    session_key: Signer
    permission_id: bytes
    session: Session


def grant_increment(
    chain: Chain, account: NexusAccount, owner: Signer, session_key: Signer, counter: str, **session: Any
) -> tuple[bytes, Session]:
    params = CreateSessionDataParams(
        session_public_key=session_key.address,
        action_policies_info=[ActionPolicyInfo(counter, INCREMENT)],
        **session,
    )
    granted = grant_permission(account, owner, chain.bundler, params)
    assert granted.receipt is not None and granted.receipt["success"] is True
    (pid,) = granted.permission_ids
    assert account.is_permission_enabled(pid) is True
    return pid, granted.sessions[0]


@pytest.fixture
def granted(
    chain: Chain, account: NexusAccount, owner: Signer, session_keys: Callable[[], Signer], counter: str
) -> Granted:
    install(chain, account, owner)
    session_key = session_keys()
    pid, session = grant_increment(chain, account, owner, session_key, counter)
    return Granted(account, session_key, pid, session)


@pytest.fixture
def session_key(session_keys: Callable[[], Signer]) -> Signer:
    """One session key generated in SoftHSM (tests that need more call ``session_keys``)."""
    return session_keys()


@pytest.fixture
def installed(chain: Chain, account: NexusAccount, owner: Signer) -> NexusAccount:
    """``account`` with Smart Sessions installed by the owner's first op (the same object as ``account``)."""
    install(chain, account, owner)
    return account


@pytest.fixture
def token(chain: Chain, chain_stack: ChainStack, account: NexusAccount) -> str:
    """The chain stack's ERC-20 TestToken (shared by every test), 500 units of it minted to this test's account."""
    mint(chain, chain_stack.test_token, account.address, 500)
    return chain_stack.test_token


@pytest.fixture
def recipient() -> str:
    """A fresh address to send tokens to: what it holds, this test sent."""
    return to_checksum_address(os.urandom(20))
