"""The ENABLE-mode session flow: the session's first op enables its permission and uses it, no grant op.

    grant = create_enable_grant(account, owner, params)        owner, off-chain, once (signers.aa.enable)
    send_enabling_session_user_operation(account, session_key, bundler, grant, calls)

The account must be deployed with Smart Sessions installed (``install_smart_sessions``); no session needs to
be granted first. Once the permission is enabled on chain, the same call sends USE-mode ops (the SDK's
``encodeUseOrEnableSmartSessionSignature``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .accounts import random_nonce_key
from .addresses import ZERO_ADDRESS
from .bundler import BundlerClient, Paymaster
from .enable import (
    ENABLE_GRANTS,
    EnableGrant,
    EnableSignatureError,
    enable_validation,
    is_valid_on_chain,
    read_enable_nonce,
    register_enable_grant,
    verify_enable,
)
from .errors import AAConfigurationError
from .execution import Call, as_call
from .flows import UserOperationResult, _check_cost, _submit, build_user_operation, send_session_user_operation
from .scope import PLUGIN_NAME as SCOPE_PLUGIN_NAME
from .scope import SCOPES, ScopeRegistry, SessionScopeCheck, scope_check_disabled
from .user_operation import UserOperation

if TYPE_CHECKING:
    from ..signer import Signer
    from .accounts import SmartAccount


def check_enable_grant(account: SmartAccount, grant: EnableGrant) -> None:
    """Everything the module will check about ``grant``, asked before the session key signs: it is for this
    account and chain, its nonce is the permission's current one, its digest is the Session's, the owner's
    signature recovers to ``grant.owner`` locally, and the account itself (ERC-1271 through the grant's
    validator) accepts it. Raises EnableSignatureError naming the first that fails."""
    pid = "0x" + grant.permission_id.hex()
    if grant.account != account.address:
        raise EnableSignatureError(
            f"the enable grant for permission {pid} is for {grant.account}, not {account.address}"
        )
    current = read_enable_nonce(account, grant.permission_id)
    if current != grant.nonce:
        raise EnableSignatureError(
            f"the enable grant for permission {pid} was signed at enable nonce {grant.nonce}; the module is at "
            f"{current} (the grant was used or revoked)"
        )
    verify_enable(
        grant,
        account=account.address,
        owner=grant.owner,
        validator=grant.validator,
        smart_session=account.addresses.smart_sessions,
        nonce=grant.nonce,
        chain_id=account.chain_id,
    )
    if not is_valid_on_chain(account, grant):
        raise EnableSignatureError(
            f"account {account.address} does not accept the owner enable signature for permission {pid} "
            f"through validator {grant.validator} (isValidSignature)"
        )


def send_enabling_session_user_operation(
    account: SmartAccount,
    session_signer: Signer,
    bundler: BundlerClient,
    grant: EnableGrant,
    calls: Sequence[Call | dict[str, Any]],
    *,
    paymaster: Paymaster | None = None,
    nonce_key: int | None = 0,
    parallel: bool = False,
    scope_check: bool = True,
    wait: bool = True,
    timeout: float = 60.0,
    max_cost_wei: int | None = None,
    registry: ScopeRegistry = SCOPES,
) -> UserOperationResult:
    """Execute ``calls`` under ``grant``'s session, signed by the session key only: in ENABLE mode while the
    permission is not enabled on chain (the op enables it, then runs), in USE mode afterwards.

    With ``scope_check`` (the default) the grant is checked first (``check_enable_grant``: a tampered or stale
    enable signature is refused before the session key signs anything), then the op against the Session, as
    in ``send_session_user_operation``. ``scope_check=False`` lets such an op reach the chain, to see it
    refused there.
    """
    if account.is_permission_enabled(grant.permission_id):
        return send_session_user_operation(
            account, session_signer, bundler, grant.session, calls,
            paymaster=paymaster, nonce_key=nonce_key, parallel=parallel, scope_check=scope_check, wait=wait,
            timeout=timeout, max_cost_wei=max_cost_wei, registry=registry,
        )  # fmt: skip
    if not account.is_deployed():
        raise AAConfigurationError(
            f"account {account.address} is not deployed: an ENABLE-mode op cannot deploy it",
            hint="deploy the account and install Smart Sessions first (install_smart_sessions)",
        )
    if paymaster is not None and not grant.session.permit_erc4337_paymaster:
        raise AAConfigurationError(
            f"the session of permission 0x{grant.permission_id.hex()} was signed without paymaster permission",
            hint="have the owner sign the grant with with_paymaster=True, or send without a paymaster",
        )
    if scope_check:
        check_enable_grant(account, grant)
    if registry.get(grant.permission_id) is None:  # a registration of its own (its cost bound) stands
        register_enable_grant(grant, addresses=account.addresses, registry=registry)
    else:
        ENABLE_GRANTS.register(grant)
    key = random_nonce_key() if parallel or nonce_key is None else nonce_key
    validation = enable_validation(account, grant)
    # the audit trail reads a USE op's permission from its signature; an ENABLE op's is compressed: say it
    context: dict[str, Any] = {"permission_id": "0x" + grant.permission_id.hex(), "account": account.address}
    if max_cost_wei is not None:
        context["max_cost_wei"] = max_cost_wei  # the scope check (before_sign) holds the op to it
    local: SessionScopeCheck | None = None  # the check run here too, when the signer's hook would not see the op
    if scope_check:
        if registry is not SCOPES or session_signer.plugin_manager.get_plugin(SCOPE_PLUGIN_NAME) is None:
            local = SessionScopeCheck(registry)
        # before anything reaches the bundler, as send_session_user_operation does; before_sign checks again
        draft = UserOperation(
            sender=account.address,
            nonce=account.nonce_key(validation.validator, key) << 64,
            call_data=account.encode_calls([as_call(c) for c in calls]),
            paymaster=ZERO_ADDRESS if paymaster is not None else None,
            signature=validation.stub,
        )
        session_signer.preflight_user_operation(
            draft, account.entry_point, account.chain_id, context=context
        )  # audited
        if local is not None:
            local.check(draft, account.chain_id, signer=session_signer.address, max_cost_wei=max_cost_wei)
    op = build_user_operation(account, calls, validation, bundler, paymaster=paymaster, nonce_key=key, deploy=False)
    if scope_check:
        # now priced by the bundler: the scope check holds it to the session's cost bound and to max_cost_wei
        if local is not None:
            local.check(op, account.chain_id, signer=session_signer.address, max_cost_wei=max_cost_wei)
        signed = account.sign_user_operation(op, session_signer, validation, context=context)
    else:
        _check_cost(op, max_cost_wei)
        with scope_check_disabled():
            signed = account.sign_user_operation(op, session_signer, validation, context=context)
    return _submit(account, bundler, signed, wait, timeout)


__all__ = ["ENABLE_GRANTS", "check_enable_grant", "send_enabling_session_user_operation"]
