"""The local check of ENABLE-mode ops (offline): the before_sign hook decodes the enable data in the op, verifies
the owner's enable signature, and holds the op to the Session it enables. Every refusal leaves the session key
unused (its backend counts signatures); every signature made is recovered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pluggy
import pytest

from signers.aa import (
    CANONICAL,
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    EnableSignatureError,
    ScopeRegistry,
    ScopeViolationError,
    SessionScopeCheck,
    StartaleAccount,
    UserOperation,
    decode_enable_signature,
    prepare_sessions,
)
from signers.aa.enable import (
    ENABLE_GRANTS,
    ChainDigest,
    EnableGrant,
    enable_validation,
    multichain_typed_data,
    register_enable_grant,
    session_digest,
    signed_session,
)
from signers.aa.sessions import OWNABLE_MOCK_SIGNATURE
from signers.hashing import personal_sign_hash
from signers.local import LocalBackend
from signers.signature import Signature
from signers.signer import Signer

from .gen import key_address
from .test_scope import COUNTER, INCREMENT, KEY, NOW, CountingBackend

OWNER_KEY = bytes.fromhex("22" * 32)
ACCOUNT = "0x1111111111111111111111111111111111111111"
K1 = "0x0000000000000000000000000000000000000007"  # the owner validator the enable signature is prefixed with


def offline_grant(owner: Signer, *, nonce: int = 3, chain_id: int = 31337) -> EnableGrant:
    """What create_enable_grant makes, without a chain: the Session, its digest at ``nonce``, the owner's
    signature over the MultiChainSession typed data."""
    params = CreateSessionDataParams(
        session_public_key=key_address(KEY),
        salt=b"\x09" * 32,
        session_valid_until=NOW + 3600,
        action_policies_info=[ActionPolicyInfo(COUNTER, INCREMENT, valid_until=NOW + 3600)],
    )
    (session,) = prepare_sessions(params, chain_id=chain_id).sessions
    message = signed_session(session, ACCOUNT, CANONICAL.smart_sessions, nonce, 1)
    signed = owner.sign_typed_data(full_message=multichain_typed_data([(chain_id, message)]))
    digest = session_digest(session, ACCOUNT, CANONICAL.smart_sessions, nonce, 1)
    return EnableGrant(
        ACCOUNT, session, (ChainDigest(chain_id, digest),), 0, K1, owner.address, bytes(signed.signature), nonce
    )


@pytest.fixture
def account() -> StartaleAccount:
    return StartaleAccount(ACCOUNT, node=None, chain_id=31337)


@pytest.fixture
def setup(plugin_manager: pluggy.PluginManager) -> Iterator[tuple[Signer, CountingBackend, ScopeRegistry, EnableGrant]]:
    registry = ScopeRegistry()
    plugin_manager.register(SessionScopeCheck(registry, clock=lambda: NOW))
    owner = Signer(LocalBackend(OWNER_KEY, "owner"), plugin_manager=plugin_manager)
    grant = offline_grant(owner)
    register_enable_grant(grant, addresses=CANONICAL, registry=registry)
    backend = CountingBackend(KEY)
    signer = Signer(backend, plugin_manager=plugin_manager)
    yield signer, backend, registry, grant
    signer.close()
    owner.close()
    ENABLE_GRANTS.unregister(grant.permission_id)


def enable_op(account: StartaleAccount, grant: EnableGrant, calls: list[Call] | None = None) -> UserOperation:
    return UserOperation(
        sender=account.address,
        nonce=account.nonce_key(CANONICAL.smart_sessions) << 64,
        call_data=account.encode_calls(calls or [Call(COUNTER, 0, INCREMENT)]),
    )


def test_an_enable_op_within_its_session_is_signed(account: StartaleAccount, setup: Any) -> None:
    signer, backend, _, grant = setup
    signed = account.sign_user_operation(enable_op(account, grant), signer, enable_validation(account, grant))
    decoded = decode_enable_signature(signed.signature)
    assert decoded.session == grant.session and decoded.permission_enable_sig == grant.permission_enable_sig
    digest = personal_sign_hash(account.user_op_hash(signed))
    assert Signature.from_bytes(decoded.session_signature).recover(digest) == signer.address
    assert backend.signs == 1


def refused(account: StartaleAccount, setup: Any, signing: EnableGrant, match: str, **options: Any) -> None:
    signer, backend, _, _ = setup
    op = enable_op(account, signing, options.pop("calls", None))
    with pytest.raises(options.pop("error", ScopeViolationError), match=match):
        (options.pop("as_signer", None) or signer).sign_user_operation(
            op.replace(signature=enable_validation(account, signing).stub),
            account.entry_point,
            options.pop("chain_id", 31337),
        )
    assert backend.signs == 0


def test_a_tampered_owner_signature_is_refused(account: StartaleAccount, setup: Any) -> None:
    _, _, registry, grant = setup
    sig = bytearray(grant.owner_signature)
    sig[40] ^= 0x80  # s changes: recovers to another address
    tampered = replace(grant, owner_signature=bytes(sig))
    register_enable_grant(tampered, addresses=CANONICAL, registry=registry)
    refused(account, setup, tampered, "does not recover to the account's owner", error=EnableSignatureError)


def test_a_grant_claiming_another_owner_is_refused(account: StartaleAccount, setup: Any) -> None:
    _, _, registry, grant = setup
    claimed = replace(grant, owner="0x000000000000000000000000000000000000dEaD")
    register_enable_grant(claimed, addresses=CANONICAL, registry=registry)
    refused(
        account, setup, claimed, "does not recover to the account's owner 0x000000000000000000000000000000000000dEaD"
    )


def test_enable_data_other_than_the_registered_grants_is_refused(account: StartaleAccount, setup: Any) -> None:
    _, _, _, grant = setup
    other_sig = replace(grant, owner_signature=grant.owner_signature[:64] + bytes([grant.owner_signature[64] ^ 3]))
    refused(account, setup, other_sig, "is not the registered grant's")


def test_a_digest_for_another_nonce_chain_or_module_is_refused(account: StartaleAccount, setup: Any) -> None:
    _, _, registry, grant = setup
    stale = replace(grant, nonce=grant.nonce + 1)  # the module moved on: the signed digest is for the old nonce
    register_enable_grant(stale, addresses=CANONICAL, registry=registry)
    refused(account, setup, stale, "session digest is not the Session's")
    register_enable_grant(grant, addresses=CANONICAL, registry=registry)
    refused(account, setup, grant, "was signed for chain 31337, not chain 1", chain_id=1)


def test_the_op_is_held_to_the_enabled_session(account: StartaleAccount, setup: Any, plugin_manager: Any) -> None:
    _, _, _, grant = setup
    refused(account, setup, grant, "outside session", calls=[Call("0x" + "99" * 20, 0, INCREMENT)])
    other = Signer(CountingBackend(bytes.fromhex("33" * 32)), plugin_manager=plugin_manager)
    refused(account, setup, grant, "enables session key", as_signer=other)
    other.close()


def test_unknown_or_malformed_enable_data_is_refused(account: StartaleAccount, setup: Any) -> None:
    signer, backend, _, grant = setup
    unknown = replace(grant, session=replace(grant.session, salt=b"\x0a" * 32))  # another permission id
    refused(account, setup, unknown, "no enable grant for it is known locally")
    op = enable_op(account, grant).replace(signature=b"\x01" + b"\xff" * 40)
    with pytest.raises(ScopeViolationError, match="ENABLE-mode op: FastLZ"):
        signer.sign_user_operation(op, account.entry_point, 31337)
    assert backend.signs == 0


def test_the_stub_and_the_final_signature_carry_the_same_enable_data(account: StartaleAccount, setup: Any) -> None:
    _, _, _, grant = setup
    validation = enable_validation(account, grant)
    stub = decode_enable_signature(validation.stub)
    final = decode_enable_signature(validation.wrap(b"\x05" * 65))
    assert stub.session_signature == OWNABLE_MOCK_SIGNATURE and final.session_signature == b"\x05" * 65
    assert (stub.session, stub.chain_digests, stub.permission_enable_sig) == (
        final.session,
        final.chain_digests,
        final.permission_enable_sig,
    )
