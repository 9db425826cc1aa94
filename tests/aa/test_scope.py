"""The local scope check (before_sign): every refusal, and that no key is used when it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pluggy
import pytest

from signers.aa import (
    CANONICAL,
    MODE_SINGLE,
    AAConfigurationError,
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    ParamCondition,
    Rule,
    ScopeRegistry,
    ScopeViolationError,
    SessionScopeCheck,
    StartaleAccount,
    UserOperation,
    encode_execute,
    encode_install_module,
    prepare_sessions,
    scope_check_disabled,
)
from signers.aa.execution import EXECUTE_SELECTOR
from signers.errors import PolicyViolationError
from signers.hashing import personal_sign_hash
from signers.local import LocalBackend
from signers.signature import Signature
from signers.signer import Signer

from .gen import key_address

NOW = 1_800_000_000
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
TOKEN = "0x2222222222222222222222222222222222222222"
COUNTER = "0x3333333333333333333333333333333333333333"
VAULT = "0x4444444444444444444444444444444444444444"
OTHER = "0x5555555555555555555555555555555555555555"
TRANSFER = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
INCREMENT = bytes.fromhex("d09de08a")
DEPOSIT = bytes.fromhex("d0e30db0")
RECIPIENT = "0x000000000000000000000000000000000000beef"


class CountingBackend(LocalBackend):
    """The local backend, counting how often a key is used."""

    def __init__(self, key: bytes) -> None:
        super().__init__(key, "counting test key")
        self.signs = 0

    def sign(self, digest: bytes) -> bytes:
        self.signs += 1
        return super().sign(digest)


def transfer(to: str, amount: int) -> bytes:
    return TRANSFER + bytes(12) + bytes.fromhex(to[2:]) + amount.to_bytes(32, "big")


@pytest.fixture
def account() -> StartaleAccount:
    return StartaleAccount("0x1111111111111111111111111111111111111111", node=None, chain_id=31337)


@pytest.fixture
def granted(account: StartaleAccount) -> Any:
    params = CreateSessionDataParams(
        session_public_key=key_address(KEY),
        salt=b"\x07" * 32,
        session_valid_until=NOW + 3600,
        session_valid_after=NOW - 3600,
        action_policies_info=[
            # transfer(RECIPIENT, <= 100) only, value 0
            ActionPolicyInfo(
                TOKEN, TRANSFER, valid_until=NOW + 3600,
                rules=[Rule(ParamCondition.EQUAL, 0, RECIPIENT), Rule(ParamCondition.LESS_THAN_OR_EQUAL, 1, 100)],
            ),
            ActionPolicyInfo(COUNTER, INCREMENT, valid_until=NOW - 1),  # this action has expired
            ActionPolicyInfo(VAULT, DEPOSIT, value_limit=10, valid_until=NOW + 3600),  # at most 10 wei in total
        ],
    )  # fmt: skip
    return prepare_sessions([params], chain_id=31337).sessions[0]


@pytest.fixture
def setup(
    account: StartaleAccount, granted: Any, plugin_manager: pluggy.PluginManager
) -> Iterator[tuple[Signer, CountingBackend, ScopeRegistry, SessionScopeCheck]]:
    registry = ScopeRegistry()
    # no chain here: the on-chain limits (the VAULT's ValueLimitPolicy) are left to it, as a registration says
    registry.register(granted, account=account.address, addresses=CANONICAL, on_unreadable="open")
    check = SessionScopeCheck(registry, clock=lambda: NOW)
    plugin_manager.register(check)
    backend = CountingBackend(KEY)
    signer = Signer(backend, plugin_manager=plugin_manager)
    yield signer, backend, registry, check
    signer.close()


def session_op(account: StartaleAccount, call_data: bytes, **fields: Any) -> UserOperation:
    nonce = account.nonce_key(CANONICAL.smart_sessions) << 64
    return UserOperation(sender=account.address, nonce=nonce, call_data=call_data, **fields)


def sign(account: StartaleAccount, signer: Signer, pid: bytes, op: UserOperation) -> UserOperation:
    return account.sign_user_operation(op, signer, account.session_validation(pid))


def refused(
    account: StartaleAccount, setup: Any, granted: Any, call_data: bytes, match: str, **fields: Any
) -> ScopeViolationError:
    signer, backend, _, _ = setup
    with pytest.raises(ScopeViolationError, match=match) as info:
        sign(account, signer, granted.permission_id, session_op(account, call_data, **fields))
    assert backend.signs == 0  # refused before the key was used
    assert isinstance(info.value, PolicyViolationError)
    return info.value


def test_an_in_scope_batch_is_signed(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup
    calls = [Call(TOKEN, 0, transfer(RECIPIENT, 100)), Call(VAULT, 4, DEPOSIT), Call(VAULT, 6, DEPOSIT)]
    op = sign(account, signer, granted.permission_id, session_op(account, encode_execute(calls)))
    assert backend.signs == 1
    assert op.signature[:33] == b"\x00" + granted.permission_id
    digest = personal_sign_hash(account.user_op_hash(op))
    assert Signature.from_bytes(op.signature[33:]).recover(digest) == signer.address


def test_target_not_granted(account: StartaleAccount, setup: Any, granted: Any) -> None:
    error = refused(account, setup, granted, encode_execute([Call(OTHER, 0, INCREMENT)]), f"call #0 \\(to {OTHER}")
    assert error.call_index == 0
    assert "granted:" in str(error)


def test_selector_not_granted_names_the_call_in_a_batch(account: StartaleAccount, setup: Any, granted: Any) -> None:
    calls = [Call(TOKEN, 0, transfer(RECIPIENT, 1)), Call(TOKEN, 0, bytes.fromhex("095ea7b3") + bytes(64))]
    error = refused(account, setup, granted, encode_execute(calls), "call #1 .*selector 0x095ea7b3")
    assert error.call_index == 1


def test_plain_value_transfer_is_selector_ffffffff(account: StartaleAccount, setup: Any, granted: Any) -> None:
    refused(account, setup, granted, encode_execute([Call(VAULT, 1, b"")]), "selector 0xffffffff")


def test_session_expired(account: StartaleAccount, setup: Any, granted: Any) -> None:
    _, _, _, check = setup
    check.clock = lambda: NOW + 3601
    refused(account, setup, granted, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))]), "session 0x.*expired")


def test_session_not_yet_valid(account: StartaleAccount, setup: Any, granted: Any) -> None:
    _, _, _, check = setup
    check.clock = lambda: NOW - 3601
    refused(account, setup, granted, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))]), "not valid before")


def test_action_expired(account: StartaleAccount, setup: Any, granted: Any) -> None:
    error = refused(account, setup, granted, encode_execute([Call(COUNTER, 0, INCREMENT)]), "call #0 .*expired")
    assert error.call_index == 0


def test_value_over_the_per_call_limit_of_a_ruled_action(account: StartaleAccount, setup: Any, granted: Any) -> None:
    refused(account, setup, granted, encode_execute([Call(TOKEN, 1, transfer(RECIPIENT, 1))]), "per-call limit 0")


def test_value_over_the_session_value_limit_across_a_batch(account: StartaleAccount, setup: Any, granted: Any) -> None:
    calls = [Call(VAULT, 6, DEPOSIT), Call(VAULT, 5, DEPOSIT)]
    error = refused(
        account, setup, granted, encode_execute(calls), "value total 11 exceeds the session's value limit 10"
    )
    assert error.call_index == 1


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (transfer(OTHER, 1), "offset 0 breaks rule EQUAL"),
        (transfer(RECIPIENT, 101), "offset 32 breaks rule LESS_THAN_OR_EQUAL"),
        (TRANSFER + bytes(12) + bytes.fromhex(RECIPIENT[2:]), "calldata too short"),
    ],
)
def test_parameter_rules(account: StartaleAccount, setup: Any, granted: Any, data: bytes, match: str) -> None:
    refused(account, setup, granted, encode_execute([Call(TOKEN, 0, data)]), match)


def test_paymaster_not_permitted(account: StartaleAccount, setup: Any, granted: Any) -> None:
    refused(
        account, setup, granted, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))]),
        "without paymaster permission", paymaster=OTHER,
    )  # fmt: skip


def test_not_an_execute_call(account: StartaleAccount, setup: Any, granted: Any) -> None:
    install = encode_install_module(1, OTHER, b"")
    refused(account, setup, granted, install, "must call execute")


def test_try_mode_execute(account: StartaleAccount, setup: Any, granted: Any) -> None:
    from eth_abi import encode

    try_single = bytes([0x00, 0x01]) + bytes(30)
    execution = bytes.fromhex(TOKEN[2:]) + bytes(32) + transfer(RECIPIENT, 1)
    refused(
        account,
        setup,
        granted,
        EXECUTE_SELECTOR + encode(["bytes32", "bytes"], [try_single, execution]),
        "default mode",
    )


def test_execute_on_the_account_itself(account: StartaleAccount, setup: Any, granted: Any) -> None:
    inner = encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))])
    refused(account, setup, granted, encode_execute([Call(account.address, 0, inner)]), "execute on the account itself")


def test_unknown_permission_with_the_smart_sessions_nonce(account: StartaleAccount, setup: Any) -> None:
    signer, backend, _, _ = setup
    op = session_op(account, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))]))
    with pytest.raises(ScopeViolationError, match="not known locally"):
        sign(account, signer, b"\x99" * 32, op)
    with pytest.raises(ScopeViolationError, match="no USE stub"):
        signer.sign_user_operation(op, CANONICAL.entry_point, 31337)
    assert backend.signs == 0


def test_other_account(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup
    other = StartaleAccount(OTHER, node=None, chain_id=31337)
    op = session_op(other, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))]))
    with pytest.raises(ScopeViolationError, match=f"granted on {account.address}, not on {OTHER}"):
        sign(other, signer, granted.permission_id, op)
    assert backend.signs == 0


def test_other_chain(granted: Any, setup: Any) -> None:
    signer, backend, registry, _ = setup
    registry.register(granted, addresses=CANONICAL, on_unreadable="open")  # any account
    elsewhere = StartaleAccount("0x1111111111111111111111111111111111111111", node=None, chain_id=1)
    op = session_op(elsewhere, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))]))
    with pytest.raises(ScopeViolationError, match="granted on chain 31337, not chain 1"):
        sign(elsewhere, signer, granted.permission_id, op)
    assert backend.signs == 0


def test_the_check_can_be_turned_off(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, check = setup
    op = session_op(account, encode_execute([Call(OTHER, 0, INCREMENT)]))
    with scope_check_disabled():
        sign(account, signer, granted.permission_id, op)
    assert backend.signs == 1
    with pytest.raises(ScopeViolationError):  # back on after the block
        sign(account, signer, granted.permission_id, op)
    check.enabled = False
    sign(account, signer, granted.permission_id, op)
    assert backend.signs == 2


def test_owner_operations_are_not_session_operations(
    account: StartaleAccount, setup: Any, plugin_manager: pluggy.PluginManager
) -> None:
    # signed by an owner key: a session key signs session ops only (test_scope_fail_closed.py)
    backend = CountingBackend(bytes.fromhex("22" * 32))
    signer = Signer(backend, plugin_manager=plugin_manager)
    op = UserOperation(sender=account.address, nonce=0, call_data=encode_execute([Call(OTHER, 0, INCREMENT)]))
    account.sign_user_operation(op, signer)
    assert backend.signs == 1


def test_signing_for_the_wrong_validator_is_refused(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup
    owner_op = UserOperation(sender=account.address, nonce=0, call_data=encode_execute([Call(TOKEN, 0, b"")]))
    with pytest.raises(Exception, match="selects validator 0x0000000000000000000000000000000000000000"):
        sign(account, signer, granted.permission_id, owner_op)
    assert backend.signs == 0


def test_mode_single_is_the_sdk_mode() -> None:
    assert bytes(32) == MODE_SINGLE


def test_a_signer_that_is_not_the_session_key_is_refused(
    account: StartaleAccount, setup: Any, granted: Any, plugin_manager: pluggy.PluginManager
) -> None:
    other = CountingBackend(bytes.fromhex("11" * 32))
    signer = Signer(other, plugin_manager=plugin_manager)
    op = session_op(account, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))]))
    with pytest.raises(
        ScopeViolationError, match=f"belongs to session key {granted.session_key}, not to {signer.address}"
    ):
        sign(account, signer, granted.permission_id, op)
    assert other.signs == 0


def test_preflight_refuses_without_signing(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup
    op = session_op(
        account,
        encode_execute([Call(OTHER, 0, INCREMENT)]),
        signature=account.session_validation(granted.permission_id).stub,
    )
    with pytest.raises(ScopeViolationError, match="call #0"):
        signer.preflight_user_operation(op, account.entry_point, 31337)
    in_scope = session_op(account, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))]), signature=op.signature)
    signer.preflight_user_operation(in_scope, account.entry_point, 31337)
    assert backend.signs == 0


def test_a_session_key_signs_nothing_but_session_operations(account: StartaleAccount, setup: Any, granted: Any) -> None:
    """Its signature is personal_sign over a userOpHash: a message or digest signature would be a way around."""
    signer, backend, _, _ = setup
    out_of_scope = session_op(account, encode_execute([Call(OTHER, 10**18, b"")]))
    op_hash = account.user_op_hash(out_of_scope)
    for attempt in (
        lambda: signer.sign_message(op_hash),
        lambda: signer.sign_digest(personal_sign_hash(op_hash)),
        lambda: signer.sign_typed_data(full_message=TYPED),
    ):
        with pytest.raises(ScopeViolationError, match="is a session key: it signs session UserOperations only"):
            attempt()
    assert backend.signs == 0
    with scope_check_disabled():  # the explicit opt-out still works
        signer.sign_message(b"ok")
    assert backend.signs == 1


TYPED = {
    "types": {"EIP712Domain": [{"name": "name", "type": "string"}], "M": [{"name": "x", "type": "uint256"}]},
    "primaryType": "M",
    "domain": {"name": "t"},
    "message": {"x": 1},
}


def test_a_use_signature_for_an_unknown_permission_is_refused_whatever_the_nonce(
    account: StartaleAccount, setup: Any
) -> None:
    signer, backend, _, _ = setup
    elsewhere = "0x7777777777777777777777777777777777777777"  # a SmartSession deployment no book names
    op = UserOperation(
        sender=account.address,
        nonce=account.nonce_key(elsewhere) << 64,
        call_data=encode_execute([Call(OTHER, 0, INCREMENT)]),
        signature=b"\x00" + b"\x99" * 32 + bytes(65),
    )
    with pytest.raises(ScopeViolationError, match="not known locally"):
        signer.sign_user_operation(op, CANONICAL.entry_point, 31337)
    assert backend.signs == 0


def test_a_grant_with_policies_the_book_does_not_know_is_refused(granted: Any) -> None:
    other_deployment = CANONICAL.with_overrides(time_frame_policy="0x" + "42" * 20)
    with pytest.raises(AAConfigurationError, match="does not know"):
        ScopeRegistry().register(granted, addresses=other_deployment)


def test_corrupt_policy_data_is_a_refusal_not_a_crash(account: StartaleAccount, setup: Any, granted: Any) -> None:
    from dataclasses import replace

    signer, backend, registry, _ = setup
    token_action = granted.actions[0]
    broken_policies = tuple(
        replace(p, init_data=p.init_data[:40]) if p.policy == CANONICAL.uni_action_policy else p
        for p in token_action.action_policies
    )
    broken = replace(granted, actions=(replace(token_action, action_policies=broken_policies), *granted.actions[1:]))
    pid = registry.register(broken, account=account.address, addresses=CANONICAL)
    with pytest.raises(ScopeViolationError, match="UniActionPolicy init data of the grant cannot be decoded"):
        sign(account, signer, pid, session_op(account, encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))])))
    assert backend.signs == 0
