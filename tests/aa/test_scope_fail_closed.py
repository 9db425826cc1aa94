"""The scope check fails closed (issue 15, items 3, 5, 6 and the session part of 10).

* a session op is signed only under a cost bound: the session's (registered or granted), the call's, or the
  documented default; a refusal names the bound and where it came from;
* a key that is or was a session key signs only ops checked against a registered permission;
* ``scope_check_disabled()`` ends with its block, also for tasks, threads and executors started inside it;
* a session op that deploys the account (factory) or executes no call is refused.

Every refusal leaves the key unused (the backend counts its signatures); every signature is recovered.
"""
# ruff: noqa: F811  (the fixtures account, granted and setup come from test_scope)

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pluggy
import pytest
from eth_abi import encode

from signers.aa import (
    CANONICAL,
    DEFAULT_SESSION_MAX_COST_WEI,
    MODE_BATCH,
    ActionPolicyInfo,
    Call,
    CreateSessionDataParams,
    OperationCostError,
    ScopeRegistry,
    ScopeViolationError,
    SessionCostError,
    SessionScopeCheck,
    StartaleAccount,
    UserOperation,
    encode_execute,
    prepare_sessions,
    scope_check_disabled,
)
from signers.aa.bundler import BundlerClient
from signers.aa.execution import EXECUTE_SELECTOR, encode_execution_batch
from signers.aa.flows import send_session_user_operation
from signers.hashing import personal_sign_hash
from signers.signature import Signature
from signers.signer import Signer

from .rpc_server import serve
from .test_scope import (  # noqa: F401  (account, granted and setup are fixtures)
    KEY,
    OTHER,
    RECIPIENT,
    TOKEN,
    CountingBackend,
    account,
    granted,
    session_op,
    setup,
    sign,
    transfer,
)

IN_SCOPE = encode_execute([Call(TOKEN, 0, transfer(RECIPIENT, 1))])
OUT_OF_SCOPE = encode_execute([Call(OTHER, 10**18, b"")])
GAS = {"call_gas_limit": 100_000, "verification_gas_limit": 200_000, "pre_verification_gas": 50_000}
GAS_TOTAL = 350_000


def priced(account: StartaleAccount, max_fee_per_gas: int, **fields: Any) -> UserOperation:
    return session_op(account, IN_SCOPE, max_fee_per_gas=max_fee_per_gas, max_priority_fee_per_gas=1, **GAS, **fields)


def recovered(account: StartaleAccount, op: UserOperation) -> str:
    return Signature.from_bytes(op.signature[33:]).recover(personal_sign_hash(account.user_op_hash(op)))


# -- item 3: a cost bound on every session op -----------------------------------------------------------------
def test_fees_of_2_127_are_refused_under_the_default_bound(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup
    op = priced(account, 2**127)
    with pytest.raises(SessionCostError, match=f"over the default bound {DEFAULT_SESSION_MAX_COST_WEI} wei") as info:
        sign(account, signer, granted.permission_id, op)
    assert backend.signs == 0
    assert f"up to {GAS_TOTAL * 2**127} wei" in str(info.value)
    assert isinstance(info.value, ScopeViolationError) and isinstance(info.value, OperationCostError)
    assert "max_cost_wei" in (info.value.hint or "")
    assert DEFAULT_SESSION_MAX_COST_WEI == 10**16  # 0.01 ETH, as documented
    fee = DEFAULT_SESSION_MAX_COST_WEI // GAS_TOTAL  # at (or just under) the bound: signed
    signed = sign(account, signer, granted.permission_id, priced(account, fee))
    assert backend.signs == 1
    assert recovered(account, signed) == signer.address


def test_paymaster_gas_counts(account: StartaleAccount, setup: Any, granted: Any) -> None:
    from dataclasses import replace

    signer, backend, registry, _ = setup
    sponsored = replace(granted, permit_erc4337_paymaster=True)  # the same permission id
    registry.register(sponsored, account=account.address, addresses=CANONICAL, max_cost_wei=GAS_TOTAL * 10)
    op = priced(account, 10, paymaster=OTHER, paymaster_verification_gas_limit=1, paymaster_post_op_gas_limit=0)
    with pytest.raises(SessionCostError, match=f"up to {(GAS_TOTAL + 1) * 10} wei"):
        sign(account, signer, sponsored.permission_id, op)
    assert backend.signs == 0
    signed = sign(account, signer, sponsored.permission_id, op.replace(paymaster_verification_gas_limit=0))
    assert recovered(account, signed) == signer.address


def test_a_bound_registered_with_the_session_is_remembered_and_named(
    account: StartaleAccount, setup: Any, granted: Any
) -> None:
    signer, backend, registry, _ = setup
    bound = GAS_TOTAL * 1000
    registry.register(granted, account=account.address, addresses=CANONICAL, max_cost_wei=bound)
    assert registry.get(granted.permission_id).max_cost_wei == bound  # type: ignore[union-attr]
    with pytest.raises(SessionCostError, match=f"over the bound {bound} wei registered with session 0x"):
        sign(account, signer, granted.permission_id, priced(account, 1001))
    assert backend.signs == 0
    signed = sign(account, signer, granted.permission_id, priced(account, 1000))
    assert recovered(account, signed) == signer.address
    # a registered bound may also be above the default: the session's owner said so
    registry.register(granted, account=account.address, addresses=CANONICAL, max_cost_wei=10**18)
    signed = sign(account, signer, granted.permission_id, priced(account, 10**18 // GAS_TOTAL))
    assert recovered(account, signed) == signer.address


def test_a_per_call_bound_only_tightens(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, registry, _ = setup
    registry.register(granted, account=account.address, addresses=CANONICAL, max_cost_wei=GAS_TOTAL * 1000)
    stubbed = priced(account, 500, signature=account.session_validation(granted.permission_id).stub)
    with pytest.raises(SessionCostError, match=f"over the per-call bound {GAS_TOTAL * 499} wei"):
        signer.sign_user_operation(stubbed, account.entry_point, 31337, context={"max_cost_wei": GAS_TOTAL * 499})
    with pytest.raises(SessionCostError, match="registered with session"):  # a looser per-call bound: no effect
        signer.sign_user_operation(
            priced(account, 1001, signature=stubbed.signature), account.entry_point, 31337,
            context={"max_cost_wei": 10**30},
        )  # fmt: skip
    assert backend.signs == 0
    signer.sign_user_operation(stubbed, account.entry_point, 31337, context={"max_cost_wei": GAS_TOTAL * 500})
    assert backend.signs == 1


@pytest.mark.parametrize("bad", [-1, "10", True, 2**256])
def test_a_malformed_per_call_bound_is_refused(account: StartaleAccount, setup: Any, granted: Any, bad: Any) -> None:
    signer, backend, _, _ = setup
    stubbed = priced(account, 1, signature=account.session_validation(granted.permission_id).stub)
    with pytest.raises(ScopeViolationError, match="per-call max_cost_wei"):
        signer.sign_user_operation(stubbed, account.entry_point, 31337, context={"max_cost_wei": bad})
    assert backend.signs == 0


def test_a_malformed_registered_bound_is_refused(account: StartaleAccount, granted: Any) -> None:
    from signers.aa import AAConfigurationError

    with pytest.raises(AAConfigurationError, match="max_cost_wei"):
        ScopeRegistry().register(granted, addresses=CANONICAL, max_cost_wei=-5)


@pytest.mark.parametrize("hooked", [True, False], ids=["signer-hook", "flow-only"])
def test_the_flow_refuses_a_bundler_that_asks_for_fees_of_2_127(
    account: StartaleAccount, plugin_manager: pluggy.PluginManager, hooked: bool
) -> None:
    """The hostile bundler of the review: in-scope calls, fees of 2**127; no bound given anywhere. Refused by
    the signer's before_sign hook, or by the flow itself when the signer has no scope hook for this registry."""
    backend = CountingBackend(KEY)
    signer = Signer(backend, plugin_manager=plugin_manager)
    params = CreateSessionDataParams(
        session_public_key=signer.address,
        action_policies_info=[ActionPolicyInfo(TOKEN, transfer(RECIPIENT, 0)[:4], valid_until=int(time.time()) + 3600)],
    )
    granted = prepare_sessions([params], chain_id=31337).sessions[0]
    registry = ScopeRegistry()
    registry.register(granted, account=account.address, addresses=CANONICAL)
    if hooked:
        plugin_manager.register(SessionScopeCheck(registry))
    fees = {"maxFeePerGas": hex(2**127), "maxPriorityFeePerGas": hex(2**127)}
    session_nonce = account.nonce_key(CANONICAL.smart_sessions) << 64  # EntryPoint.getNonce: sequence 0
    answers = {
        "eth_chainId": "0x7a69",
        "eth_call": "0x" + session_nonce.to_bytes(32, "big").hex(),
        "pimlico_getUserOperationGasPrice": {"standard": fees, "fast": fees},
        "eth_estimateUserOperationGas": {"preVerificationGas": "0xc350", "verificationGasLimit": "0x30d40",
                                         "callGasLimit": "0x186a0"},
    }  # fmt: skip
    with serve(lambda method, params: answers[method]) as server:
        bundler = BundlerClient(server.url)
        live = StartaleAccount(account.address, node=server.url, chain_id=31337, addresses=CANONICAL)
        with pytest.raises(SessionCostError, match="default bound"):
            send_session_user_operation(
                live, signer, bundler, granted.permission_id, [Call(TOKEN, 0, transfer(RECIPIENT, 1))],
                registry=registry, wait=False,
            )  # fmt: skip
        assert "eth_sendUserOperation" not in server.methods()
    assert backend.signs == 0
    signer.close()


# -- item 5: a session key signs session ops only, and stays marked ------------------------------------------
def owner_shaped(account: StartaleAccount, signature: bytes) -> UserOperation:
    """An op the owner validator (address 0 in the nonce) would check, with a signature field that is not a
    full USE stub: nothing in it says "session op"."""
    return UserOperation(sender=account.address, nonce=0, call_data=OUT_OF_SCOPE, signature=signature)


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00" + b"\x07" * 32, b"\x00" + b"\x07" * 32 + bytes(64), bytes(65), b"\x01" + b"\x07" * 32 + bytes(65)],
    ids=["empty", "mode+pid", "short-use", "owner-stub", "enable-mode"],
)
def test_a_session_key_does_not_sign_an_op_for_another_validator(
    account: StartaleAccount, setup: Any, signature: bytes, plugin_manager: pluggy.PluginManager
) -> None:
    signer, backend, _, _ = setup
    with pytest.raises(ScopeViolationError, match="is a session key"):
        signer.sign_user_operation(owner_shaped(account, signature), account.entry_point, 31337)
    with pytest.raises(ScopeViolationError, match="is a session key"):
        account.sign_user_operation(owner_shaped(account, signature), signer)  # the owner's path
    assert backend.signs == 0
    owner = Signer(CountingBackend(bytes.fromhex("22" * 32)), plugin_manager=plugin_manager)  # not a session key
    signed = account.sign_user_operation(owner_shaped(account, signature), owner)
    digest = personal_sign_hash(account.user_op_hash(signed))
    assert Signature.from_bytes(signed.signature).recover(digest) == owner.address
    owner.close()


def test_a_registered_permission_under_another_validator_is_refused(
    account: StartaleAccount, setup: Any, granted: Any
) -> None:
    """The permission id in the signature is known, but the nonce routes the op to another validator: the
    chain would never check it against the session."""
    signer, backend, _, _ = setup
    stub = account.session_validation(granted.permission_id).stub
    op = UserOperation(sender=account.address, nonce=0, call_data=IN_SCOPE, signature=stub)
    with pytest.raises(ScopeViolationError, match="selects validator 0x0000000000000000000000000000000000000000"):
        signer.sign_user_operation(op, account.entry_point, 31337)
    assert backend.signs == 0


def test_a_revoked_session_key_stays_marked(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, registry, _ = setup
    registry.unregister(granted.permission_id)  # the key's last permission
    assert signer.address.lower() in registry.session_keys()
    with pytest.raises(ScopeViolationError, match="is a session key"):
        signer.sign_user_operation(owner_shaped(account, b""), account.entry_point, 31337)
    with pytest.raises(ScopeViolationError, match="not known locally"):
        sign(account, signer, granted.permission_id, session_op(account, IN_SCOPE))
    with pytest.raises(ScopeViolationError, match="is a session key"):
        signer.sign_message(b"hello")
    assert backend.signs == 0
    with scope_check_disabled():  # the explicit opt-out
        signer.sign_user_operation(owner_shaped(account, b""), account.entry_point, 31337)
    assert backend.signs == 1


# -- item 6: scope_check_disabled() ends with its block, for every task and thread -------------------------
def test_a_task_created_in_the_block_is_checked_after_it(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup

    async def main() -> None:
        gate = asyncio.Event()

        async def later() -> UserOperation:
            await gate.wait()
            return sign(account, signer, granted.permission_id, session_op(account, OUT_OF_SCOPE))

        with scope_check_disabled():
            task = asyncio.create_task(later())
        gate.set()
        with pytest.raises(ScopeViolationError, match="outside session"):
            await task

    asyncio.run(main())
    assert backend.signs == 0


def test_to_thread_started_in_the_block_is_checked_after_it(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup
    gate = threading.Event()

    def later() -> UserOperation:
        gate.wait(10)
        return sign(account, signer, granted.permission_id, session_op(account, OUT_OF_SCOPE))

    async def main() -> None:
        with scope_check_disabled():
            call = asyncio.create_task(asyncio.to_thread(later))  # the task copies the block's context
        gate.set()
        with pytest.raises(ScopeViolationError, match="outside session"):
            await call

    asyncio.run(main())
    assert backend.signs == 0


def test_an_executor_job_with_the_blocks_context_is_checked_after_it(
    account: StartaleAccount, setup: Any, granted: Any
) -> None:
    signer, backend, _, _ = setup
    gate = threading.Event()

    def later() -> UserOperation:
        gate.wait(10)
        return sign(account, signer, granted.permission_id, session_op(account, OUT_OF_SCOPE))

    with ThreadPoolExecutor(max_workers=1) as pool:
        with scope_check_disabled():
            job = pool.submit(contextvars.copy_context().run, later)  # as run_in_threadpool helpers do
        gate.set()
        with pytest.raises(ScopeViolationError, match="outside session"):
            job.result(timeout=10)
    assert backend.signs == 0


def test_a_copy_is_off_while_the_block_runs_and_nesting_holds(
    account: StartaleAccount, setup: Any, granted: Any
) -> None:
    signer, backend, _, _ = setup
    op = session_op(account, OUT_OF_SCOPE)
    with scope_check_disabled():
        with scope_check_disabled():
            inner = contextvars.copy_context()
        inner.run(sign, account, signer, granted.permission_id, op)  # the outer block still runs
        assert backend.signs == 1
    with pytest.raises(ScopeViolationError):
        inner.run(sign, account, signer, granted.permission_id, op)
    with pytest.raises(ScopeViolationError):
        sign(account, signer, granted.permission_id, op)
    assert backend.signs == 1


# -- item 10: no factory, at least one call --------------------------------------------------------------------
def test_a_session_op_that_deploys_the_account_is_refused(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup
    op = session_op(account, IN_SCOPE, factory=CANONICAL.account_factory, factory_data=b"\x01\x02")
    with pytest.raises(ScopeViolationError, match="factory"):
        sign(account, signer, granted.permission_id, op)
    assert backend.signs == 0


def test_a_batch_of_zero_calls_is_refused(account: StartaleAccount, setup: Any, granted: Any) -> None:
    signer, backend, _, _ = setup
    empty = EXECUTE_SELECTOR + encode(["bytes32", "bytes"], [MODE_BATCH, encode_execution_batch([])])
    with pytest.raises(ScopeViolationError, match="no call"):
        sign(account, signer, granted.permission_id, session_op(account, empty))
    assert backend.signs == 0
