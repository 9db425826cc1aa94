"""The ENABLE-mode session flow: the session's first op enables its permission and uses it, no grant op.

    grant = create_enable_grant(account, owner, params)        owner, off-chain, once (signers.aa.enable)
    send_enabling_session_user_operation(account, session_key, bundler, grant, calls)

The account must be deployed with Smart Sessions installed (``install_smart_sessions``); no session needs to
be granted first. Once the permission is enabled on chain, the same call sends USE-mode ops (the SDK's
``encodeUseOrEnableSmartSessionSignature``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Unpack

from .bundler import BundlerClient
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
from .execution import Call
from .flows import SendKeywords, SendOptions, UserOperationResult, _send, send_options, send_session_user_operation

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
    verify_enable(grant, smart_session=account.addresses.smart_sessions, chain_id=account.chain_id)
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
    options: SendOptions | None = None,
    **keywords: Unpack[SendKeywords],
) -> UserOperationResult:
    """Execute ``calls`` under ``grant``'s session, signed by the session key only: in ENABLE mode while the
    permission is not enabled on chain (the op enables it, then runs), in USE mode afterwards.

    With ``scope_check`` (the default) the grant is checked first (``check_enable_grant``: a tampered or stale
    enable signature is refused before the session key signs anything), then the op against the Session, as
    in ``send_session_user_operation``. ``scope_check=False`` lets such an op reach the chain, to see it
    refused there.
    """
    opts = send_options(options, keywords)
    if account.is_permission_enabled(grant.permission_id):
        return send_session_user_operation(account, session_signer, bundler, grant.session, calls, options=opts)
    if not account.is_deployed():
        raise AAConfigurationError(
            f"account {account.address} is not deployed: an ENABLE-mode op cannot deploy it",
            hint="deploy the account and install Smart Sessions first (install_smart_sessions)",
        )
    if opts.paymaster is not None and not grant.session.permit_erc4337_paymaster:
        raise AAConfigurationError(
            f"the session of permission 0x{grant.permission_id.hex()} was signed without paymaster permission",
            hint="have the owner sign the grant with with_paymaster=True, or send without a paymaster",
        )
    if opts.scope_check:
        check_enable_grant(account, grant)
    if opts.registry.get(grant.permission_id) is None:  # a registration of its own (its cost bound) stands
        register_enable_grant(grant, addresses=account.addresses, registry=opts.registry)
    else:
        ENABLE_GRANTS.register(grant)
    # the audit trail reads a USE op's permission from its signature; an ENABLE op's is compressed: say it
    context = {"permission_id": "0x" + grant.permission_id.hex(), "account": account.address}
    return _send(
        account, session_signer, bundler, calls, enable_validation(account, grant), opts, session=True, context=context
    )


__all__ = ["ENABLE_GRANTS", "check_enable_grant", "send_enabling_session_user_operation"]
