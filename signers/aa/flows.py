"""The Smart Sessions flows of the Startale SDK, with any ``Signer`` as owner or session key.

    is_smart_sessions_installed(account)
    install_smart_sessions(account, owner, bundler)                 owner op: installModule(1, SmartSession, 0x)
    grant_permission(account, owner, bundler, params)              owner op: SmartSession.enableSessions(...)
    send_session_user_operation(account, session_key, bundler, permission, calls)   session op (USE mode)
    revoke_permission(account, owner, bundler, permission_id)      owner op: SmartSession.removeSession(id)

Every op goes the same way: nonce from the EntryPoint (validator in the key), callData = execute(calls),
fees, paymaster stub data (ERC-7677), gas estimate with the stub signature, final paymaster data, the
signature (through Signer.sign_user_operation, so before_sign policies such as the scope check see the op
first), eth_sendUserOperation, and optionally the receipt.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from .accounts import SmartAccount, Validation, random_nonce_key
from .addresses import ZERO_ADDRESS
from .bundler import BundlerClient, GasFees, Paymaster
from .errors import (
    OperationCostError,
    RpcUnavailableError,
    UserOperationHashMismatchError,
    UserOperationInDoubtError,
    UserOperationTimeoutError,
)
from .execution import Call, ModuleType, as_call, encode_install_module
from .hexutil import BytesLike, to_bytes
from .scope import PLUGIN_NAME as SCOPE_PLUGIN_NAME
from .scope import SCOPES, ScopeRegistry, SessionScopeCheck, scope_check_disabled
from .sessions import (
    CreateSessionDataParams,
    Session,
    encode_remove_session,
    prepare_sessions,
    smart_sessions_init_data,
)
from .user_operation import UserOperation

if TYPE_CHECKING:
    from ..signer import Signer

# Fee head-room over the node's base fee when the bundler has no fee method (the SDK uses 1.3 too).
FEE_MULTIPLIER_PERCENT = 130


@dataclass(frozen=True)
class SendOptions:
    """How a flow sends its op, one value for every flow. Each flow also takes these as keyword arguments
    (``send_session_user_operation(..., paymaster=pm, wait=False)``); ``options=`` passes a shared value, and a
    keyword given too overrides it."""

    paymaster: Paymaster | None = None  # ERC-7677 (or VerifyingPaymaster) sponsorship
    nonce_key: int | None = 0  # the nonce key under the validator; None: a fresh random one
    parallel: bool = False  # a fresh random nonce key: several ops in flight at once
    scope_check: bool = True  # session ops: checked locally first; False lets the chain refuse them instead
    wait: bool = True  # wait for the receipt
    timeout: float = 60.0  # seconds to wait for it
    max_cost_wei: int | None = None  # the most the bundler's gas and fees may let this op cost
    registry: ScopeRegistry = SCOPES  # where granted sessions are registered and looked up

    def nonce_key_to_use(self) -> int:
        return random_nonce_key() if self.parallel or self.nonce_key is None else self.nonce_key


class SendKeywords(TypedDict, total=False):
    """``SendOptions`` as keyword arguments (see there)."""

    paymaster: Paymaster | None
    nonce_key: int | None
    parallel: bool
    scope_check: bool
    wait: bool
    timeout: float
    max_cost_wei: int | None
    registry: ScopeRegistry


def send_options(options: SendOptions | None, keywords: Mapping[str, Any]) -> SendOptions:
    """``options`` (or the defaults) with the keyword arguments a flow was called with."""
    base = options if options is not None else SendOptions()
    return dataclasses.replace(base, **keywords) if keywords else base


@dataclass(frozen=True)
class UserOperationResult:
    user_op_hash: bytes
    user_operation: UserOperation
    receipt: dict[str, Any] | None = None


@dataclass(frozen=True)
class GrantResult(UserOperationResult):
    permission_ids: tuple[bytes, ...] = ()
    sessions: tuple[Session, ...] = ()


def _fees(account: SmartAccount, bundler: BundlerClient) -> GasFees:
    fees = bundler.gas_fees()
    if fees is not None:
        return fees
    priority = account.node.max_priority_fee()
    base = account.node.latest_base_fee()
    return GasFees(max_fee_per_gas=(base + priority) * FEE_MULTIPLIER_PERCENT // 100, max_priority_fee_per_gas=priority)


def build_user_operation(
    account: SmartAccount,
    calls: Sequence[Call | dict[str, Any]],
    validation: Validation,
    bundler: BundlerClient,
    *,
    paymaster: Paymaster | None = None,
    nonce_key: int = 0,
    deploy: bool = True,
    fees: GasFees | None = None,
) -> UserOperation:
    """An unsigned op (stub signature in place) with nonce, gas and paymaster fields filled."""
    fees = fees or _fees(account, bundler)
    op = UserOperation(
        sender=account.address,
        nonce=account.get_nonce(validation.validator, nonce_key),
        call_data=account.encode_calls([as_call(c) for c in calls]),
        max_fee_per_gas=fees.max_fee_per_gas,
        max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
        signature=validation.stub,
        **(account.init_fields() if deploy else {}),
    )
    entry_point, chain_id = account.entry_point, account.chain_id
    final = None
    if paymaster is not None:
        stub = paymaster.stub_data(op, entry_point, chain_id)
        op = stub.apply(op)
        final = stub if stub.is_final else None
    op = bundler.estimate_user_operation_gas(op, entry_point).apply(op)
    if paymaster is not None:
        op = (final or paymaster.data(op, entry_point, chain_id)).apply(op)
    return op


def _send(
    account: SmartAccount,
    signer: Signer,
    bundler: BundlerClient,
    calls: Sequence[Call | dict[str, Any]],
    validation: Validation,
    options: SendOptions,
    *,
    deploy: bool = False,
    session: bool = False,
    context: Mapping[str, Any] | None = None,
) -> UserOperationResult:
    """The one way every flow sends an op: nonce key, (for a session op) the scope check on a draft before the
    bundler sees anything, the op priced by the bundler, its cost bound, the signature, eth_sendUserOperation."""
    key = options.nonce_key_to_use()
    context = dict(context or {})
    if session and options.max_cost_wei is not None:
        context["max_cost_wei"] = options.max_cost_wei  # the scope check (before_sign) holds the op to it
    checked = session and options.scope_check
    local: SessionScopeCheck | None = None  # the check run here too, when the signer's hook would not see the op
    if checked:
        if options.registry is not SCOPES or signer.plugin_manager.get_plugin(SCOPE_PLUGIN_NAME) is None:
            local = SessionScopeCheck(options.registry)  # the built-in hook knows the process-wide registry only
        # Check before anything reaches the bundler (gas estimation would already show the op to it); the
        # before_sign hook checks the final op again.
        draft = UserOperation(
            sender=account.address,
            nonce=account.nonce_key(validation.validator, key) << 64,
            call_data=account.encode_calls([as_call(c) for c in calls]),
            paymaster=ZERO_ADDRESS if options.paymaster is not None else None,
            signature=validation.stub,
        )
        signer.preflight_user_operation(draft, account.entry_point, account.chain_id, context=context)  # audited
        if local is not None:
            local.check(draft, account.chain_id, signer=signer.address, max_cost_wei=options.max_cost_wei)
    op = build_user_operation(
        account, calls, validation, bundler, paymaster=options.paymaster, nonce_key=key, deploy=deploy
    )
    if checked:
        # now priced by the bundler: the scope check holds it to the session's cost bound and to max_cost_wei
        if local is not None:
            local.check(op, account.chain_id, signer=signer.address, max_cost_wei=options.max_cost_wei)
        signed = account.sign_user_operation(op, signer, validation, context=context)
        if local is not None:  # the hook's after_sign does this for the registry it knows
            options.registry.signed(signed)
    else:
        _check_cost(op, options.max_cost_wei)
        with scope_check_disabled() if session else contextlib.nullcontext():
            signed = account.sign_user_operation(op, signer, validation, context=context or None)
    return _submit(account, bundler, signed, options.wait, options.timeout)


def _check_cost(op: UserOperation, max_cost_wei: int | None) -> None:
    """Gas limits and fees come from the bundler (and a paymaster): bound what the signature lets it charge.
    (A session op's bound is the scope check's: it always has one.)"""
    if max_cost_wei is None:
        return
    if op.max_cost_wei > max_cost_wei:
        raise OperationCostError(
            f"the op could cost up to {op.max_cost_wei} wei ({op.max_gas} gas at {op.max_fee_per_gas} wei), over "
            f"max_cost_wei {max_cost_wei}; nothing was signed"
        )


def _submit(
    account: SmartAccount, bundler: BundlerClient, signed: UserOperation, wait: bool, timeout: float
) -> UserOperationResult:
    expected = account.user_op_hash(signed)
    try:
        op_hash = bundler.send_user_operation(signed, account.entry_point)
    except RpcUnavailableError as error:
        # the request may have reached the bundler before its answer was lost: hand back what was signed
        raise UserOperationInDoubtError(
            f"{error.message}, after the op was signed and sent (userOpHash 0x{expected.hex()})",
            user_op_hash="0x" + expected.hex(),
            user_operation=signed,
        ) from None
    if op_hash != expected:
        raise UserOperationHashMismatchError(
            f"the bundler answered userOpHash 0x{op_hash.hex()}, but the op it was sent is 0x{expected.hex()}"
        )
    try:
        receipt = bundler.wait_for_receipt(op_hash, timeout=timeout) if wait else None
    except UserOperationTimeoutError as error:
        error.user_operation = signed
        raise
    return UserOperationResult(op_hash, signed, receipt)


def is_smart_sessions_installed(account: SmartAccount) -> bool:
    """isModuleInstalled(1, SmartSession, 0x); False for an account that is not deployed yet."""
    if not account.is_deployed():
        return False
    return account.is_smart_sessions_installed()


def install_smart_sessions(
    account: SmartAccount,
    owner: Signer,
    bundler: BundlerClient,
    *,
    sessions: Sequence[Session] = (),
    use_registry: bool = True,
    options: SendOptions | None = None,
    **keywords: Unpack[SendKeywords],
) -> UserOperationResult:
    """Install the SmartSession validator (the SDK's ``installModule(getSmartSessionsValidator({}))``).

    One self-call ``installModule(1, SmartSession, initData)``; ``initData`` is empty unless ``sessions``
    are enabled at install time. Deploys the account first if it has factory data and no code.
    """
    init_data = smart_sessions_init_data(sessions, use_registry=use_registry)
    call = Call(
        to=account.address,
        value=0,
        data=encode_install_module(ModuleType.VALIDATOR, account.addresses.smart_sessions, init_data),
    )
    return _send(
        account, owner, bundler, [call], account.owner_validation(), send_options(options, keywords), deploy=True
    )


def grant_permission(
    account: SmartAccount,
    owner: Signer,
    bundler: BundlerClient,
    params: Sequence[CreateSessionDataParams] | CreateSessionDataParams,
    *,
    extra_calls: Sequence[Call | dict[str, Any]] = (),
    session_max_cost_wei: int | None = None,
    options: SendOptions | None = None,
    **keywords: Unpack[SendKeywords],
) -> GrantResult:
    """Enable sessions on ``account`` (the SDK's ``grantPermission``): one owner op calling
    ``SmartSession.enableSessions(sessions)``. ``permitERC4337Paymaster`` is set when ``paymaster`` is given.
    The granted sessions are registered for the local scope check, with ``session_max_cost_wei`` as the most
    each session op may cost (default ``DEFAULT_SESSION_MAX_COST_WEI``); ``max_cost_wei`` bounds this grant op."""
    opts = send_options(options, keywords)
    prepared = prepare_sessions(
        params, chain_id=account.chain_id, with_paymaster=opts.paymaster is not None, addresses=account.addresses
    )
    result = _send(
        account, owner, bundler, [prepared.call, *extra_calls], account.owner_validation(), opts, deploy=True
    )
    for session in prepared.sessions:
        opts.registry.register(
            session, account=account.address, addresses=account.addresses, max_cost_wei=session_max_cost_wei,
            node=account.node,  # its usage, value and ERC-20 limits are read there before each session op
        )  # fmt: skip
    return GrantResult(
        result.user_op_hash,
        result.user_operation,
        result.receipt,
        permission_ids=prepared.permission_ids,
        sessions=prepared.sessions,
    )


def send_session_user_operation(
    account: SmartAccount,
    session_signer: Signer,
    bundler: BundlerClient,
    permission: Session | BytesLike,
    calls: Sequence[Call | dict[str, Any]],
    *,
    options: SendOptions | None = None,
    **keywords: Unpack[SendKeywords],
) -> UserOperationResult:
    """Execute ``calls`` from ``account`` under a granted session, signed by the session key only.

    ``permission`` is the granted Session (registered for the scope check unless it already is) or its
    permission id (then the Session must already be registered, e.g. by ``grant_permission`` in this
    process). ``parallel=True`` uses a fresh random nonce key, so several session ops can be in flight at
    once. ``scope_check=False`` lets an out-of-scope op reach the chain (to see it refused there).

    What the gas limits and fees chosen by the bundler (and paymaster) may make the op cost is bounded before
    it is signed: by the session's bound (registered with it, else ``DEFAULT_SESSION_MAX_COST_WEI``) and by
    ``max_cost_wei`` when given, the tighter of the two (``SessionCostError``).
    """
    opts = send_options(options, keywords)
    if isinstance(permission, Session):
        pid = permission.permission_id
        if opts.registry.get(pid) is None:  # a registration of its own (its account, its cost bound) stands
            opts.registry.register(permission, account=account.address, addresses=account.addresses, node=account.node)
    else:
        pid = to_bytes(permission, "permission_id", 32)
    return _send(account, session_signer, bundler, calls, account.session_validation(pid), opts, session=True)


def revoke_permission(
    account: SmartAccount,
    owner: Signer,
    bundler: BundlerClient,
    permission_id: BytesLike,
    *,
    options: SendOptions | None = None,
    **keywords: Unpack[SendKeywords],
) -> UserOperationResult:
    """``SmartSession.removeSession(permissionId)`` as an owner op (the SDK's ``revokeSession``)."""
    pid = to_bytes(permission_id, "permission_id", 32)
    call = Call(to=account.addresses.smart_sessions, value=0, data=encode_remove_session(pid))
    opts = send_options(options, keywords)
    result = _send(account, owner, bundler, [call], account.owner_validation(), opts)
    opts.registry.unregister(pid)
    return result
