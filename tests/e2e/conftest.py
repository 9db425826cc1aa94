"""Fixtures of the end-to-end tests: the chain stack, the owner key in LocalStack KMS, session keys generated in
SoftHSM, a Counter and a counterfactual account of each test's own, and an audit trail per test.

Every service is real and started by the shared session fixtures (tests/fixtures/*.py); nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import signers
from demo.onchain import Chain
from signers.aa import NexusAccount, enable_scope_check
from signers.audit import AuditTrail
from signers.signer import Signer


@pytest.fixture(scope="session")
def chain(chain_stack: Any) -> Iterator[Chain]:
    from tests.fixtures.chain import load_stack_module

    deployment, _ = load_stack_module().start()  # the running stack's deployment.json (chain_stack started it)
    world = Chain.from_deployment(deployment, funder_index=3)
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
