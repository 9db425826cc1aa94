"""Errors of the ERC-4337 layer: bundler, paymaster and node JSON-RPC failures, and refused session scope.

A bundler error keeps what the bundler said: the JSON-RPC ``code`` (ERC-7769: -32500 rejected by the
EntryPoint or the account, -32501 by the paymaster, ...), the ``aa_code`` of the EntryPoint revert reason
("AA23", "AA25", ...) when the message carries one, and the raw ``data``. The class tells what kind of
failure it was and the hint what to do; the AA code refines the hint.
"""

from __future__ import annotations

import re
from typing import Any

# the two base classes are core (the UserOperation type, signers.user_operation, raises them); importable here too
from ..errors import AAConfigurationError as AAConfigurationError
from ..errors import AAError as AAError
from ..errors import BackendUnavailableError, PolicyViolationError


class RpcUnavailableError(AAError, BackendUnavailableError):
    """The bundler, paymaster or node did not answer, or answered something that is not JSON-RPC."""

    hint = "check the URL and that the service is running; a read can simply be asked again"


# -- JSON-RPC errors ---------------------------------------------------------------------------------------
_AA_CODE = re.compile(r"\b(AA[1-5]\d)\b")

# EntryPoint v0.7 revert codes -> what to do about them.
AA_HINTS: dict[str, str] = {
    "AA10": "the sender is already deployed: drop factory/factoryData",
    "AA13": "the factory call failed or ran out of gas: check factoryData and verificationGasLimit",
    "AA14": "the factory returned another address than sender: check the factory and its salt",
    "AA15": "the factory did not deploy code at sender",
    "AA20": "the account is not deployed and the op has no factory: deploy it first or add factory data",
    "AA21": "the account cannot pay the prefund: fund it or use a paymaster",
    "AA22": "the op is expired or not yet valid (a session's validUntil/validAfter): grant a new session",
    "AA23": "the account's validation reverted (wrong validator in the nonce key, disabled permission, a "
    "policy refusing the call...)",
    "AA24": "the signature does not verify for the selected validator: check the signer and the nonce key",
    "AA25": "invalid nonce: read it again from the EntryPoint or use another nonce key",
    "AA26": "verificationGasLimit too low: estimate again",
    "AA30": "the paymaster is not deployed",
    "AA31": "the paymaster's deposit is too low",
    "AA32": "the paymaster's signature is expired or not yet valid: ask the paymaster again",
    "AA33": "the paymaster's validation reverted",
    "AA34": "the paymaster's signature is invalid",
    "AA40": "verification used more gas than the limits: estimate again",
    "AA41": "too little verification gas for the paymaster: estimate again",
    "AA50": "the paymaster's postOp reverted",
    "AA51": "the prefund is below the actual gas cost",
}


class UserOperationHashMismatchError(AAError):
    """The bundler answered a userOpHash other than the op's own: it did not accept the op that was signed."""

    hint = "do not trust this bundler's answers for this op; check the bundler's EntryPoint and chain id"


class OperationCostError(AAError):
    """The gas and fees a bundler or paymaster chose would let the op cost more than the caller allows."""

    hint = "raise max_cost_wei if the network is that expensive, or use another bundler"


class RpcError(AAError):
    """A JSON-RPC error response. ``code``, ``aa_code``, ``data`` and ``method`` keep what the server said."""

    rpc_code: int | None = None  # the JSON-RPC code a subclass stands for

    def __init__(
        self,
        message: str,
        *,
        code: int,
        method: str,
        data: Any = None,
        url: str = "",
        hint: str | None = None,
    ) -> None:
        self.code = code
        self.method = method
        self.data = data
        self.url = url
        self.server_message = message
        match = _AA_CODE.search(message) or _AA_CODE.search(str(data) if data is not None else "")
        self.aa_code: str | None = match.group(1) if match else None
        if hint is None and self.aa_code in AA_HINTS:
            hint = AA_HINTS[self.aa_code]
        super().__init__(f"{method} failed with JSON-RPC error {code}: {message}", hint=hint)


class ContractCallError(RpcError):
    """A node's eth_call reverted or failed."""


class BundlerError(RpcError):
    """The bundler refused a request (an error not covered by a more specific class)."""


class UserOperationRejectedError(BundlerError):
    """-32500: the EntryPoint simulation or the account's validation rejected the UserOperation."""

    rpc_code = -32500
    hint = "the account refused the op during validation; see aa_code"


class PaymasterRejectedError(BundlerError):
    """-32501: the paymaster's validation rejected the UserOperation."""

    rpc_code = -32501
    hint = "the paymaster refused the op: check its data, its deposit, and that the session permits a paymaster"


class OpcodeViolationError(BundlerError):
    """-32502: banned opcode or storage access during validation (ERC-7562)."""

    rpc_code = -32502
    hint = "validation touched forbidden opcodes or storage; use a compliant account, module or paymaster"


class OutOfTimeRangeError(BundlerError):
    """-32503: the op (or its paymaster) is expired or not yet valid."""

    rpc_code = -32503
    hint = "the session or the paymaster signature is out of its validity window"


class ThrottledEntityError(BundlerError):
    """-32504: the paymaster, factory or aggregator is throttled or banned by the bundler."""

    rpc_code = -32504
    hint = "retry later or use another paymaster/factory"


class StakeTooLowError(BundlerError):
    """-32505: an entity's stake or unstake delay is too low."""

    rpc_code = -32505
    hint = "stake the entity in the EntryPoint"


class UnsupportedAggregatorError(BundlerError):
    """-32506: the bundler does not support the op's signature aggregator."""

    rpc_code = -32506


class SignatureCheckFailedError(BundlerError):
    """-32507: the (aggregated) signature check failed."""

    rpc_code = -32507
    hint = "the signature does not verify: check the signer, the nonce key and the signature encoding"


class ExecutionRevertedError(BundlerError):
    """-32521: the op's execution reverted (during gas estimation)."""

    rpc_code = -32521
    hint = "the call itself reverts: check the target, calldata, value and the account's balance"


class InvalidFieldsError(BundlerError):
    """-32602: a field of the request is malformed (length, range, missing)."""

    rpc_code = -32602
    hint = "a UserOperation field is malformed; compare with the v0.7 JSON-RPC form"


class MethodNotFoundError(BundlerError):
    """-32601: the server does not implement this method."""

    rpc_code = -32601
    hint = "the endpoint is not a bundler (or not a paymaster) for this method"


class UserOperationNotFoundError(AAError):
    """No UserOperation (or receipt) is known for this hash."""


# What to do with a signed op whose fate is unknown. Never "sign a new op for the same action": the first
# may still land, and both would run. An op cannot run twice (its nonce), so waiting or resending it is safe.
_NEVER_RESIGN = "never sign a new op for the same action under another nonce"
_IN_DOUBT_HINT = (
    "it may still be included: wait for its receipt (bundler.wait_for_receipt(error.user_op_hash)) or send "
    "error.user_operation again unchanged (one op cannot run twice); to give it up, replace it with an op of the "
    f"same nonce; {_NEVER_RESIGN}"
)
# the same advice where only the op the caller sent is at hand (BundlerClient.send_user_operation)
SENT_IN_DOUBT_HINT = (
    "the op may have reached the bundler: look up its userOpHash with eth_getUserOperationReceipt or send the "
    f"same signed op again; {_NEVER_RESIGN}"
)


class UserOperationTimeoutError(AAError):
    """The UserOperation was not included before the timeout. ``user_op_hash`` names it; ``user_operation``
    is the signed op when the flow that sent it raised this."""

    hint = _IN_DOUBT_HINT

    def __init__(
        self, message: str, *, user_op_hash: str = "", user_operation: Any = None, hint: str | None = None
    ) -> None:
        self.user_op_hash = user_op_hash
        self.user_operation = user_operation
        super().__init__(message, hint=hint)


class UserOperationInDoubtError(RpcUnavailableError):
    """A signed UserOperation was sent, and the bundler's answer was lost: it may be pending, or not.
    ``user_op_hash`` and ``user_operation`` (the signed op) let the caller find out, or send it again."""

    hint = _IN_DOUBT_HINT

    def __init__(self, message: str, *, user_op_hash: str, user_operation: Any) -> None:
        self.user_op_hash = user_op_hash
        self.user_operation = user_operation
        super().__init__(message)


class UserOperationFailedError(AAError):
    """The UserOperation was included but its execution reverted (receipt success = false)."""

    def __init__(self, message: str, *, user_op_hash: str, receipt: dict[str, Any]) -> None:
        self.user_op_hash = user_op_hash
        self.receipt = receipt
        super().__init__(message, hint="the op was paid for; the calls reverted (see receipt['reason'])")


class ScopeViolationError(AAError, PolicyViolationError):
    """A session UserOperation asks for something the session was not granted; no key was used."""

    hint = "change the call to fit the grant, or have the owner grant a session that covers it"

    def __init__(self, message: str, *, call_index: int | None = None, hint: str | None = None) -> None:
        self.call_index = call_index
        super().__init__(message, hint=hint)


class SessionCostError(ScopeViolationError, OperationCostError):
    """A session op could cost more than its bound (the session's, the call's or the default); no key was used."""

    hint = "register the session with a higher max_cost_wei if the network is that expensive, or use another bundler"


class SessionLimitError(ScopeViolationError):
    """A session op would pass an on-chain limit (usage count, cumulative value, ERC-20 spending) as the node reports
    it; no key was used."""

    hint = "wait for a new grant with a higher limit (or rotate the session); the chain would refuse this op too"


class LimitsUnavailableError(ScopeViolationError):
    """The on-chain limits of a session could not be read (no node registered, or the node did not answer) and the
    check fails closed; no key was used."""

    hint = (
        "register the session with a reachable node (node=NodeClient(url)), or with on_unreadable='open' to leave "
        "the limits to the chain"
    )


class SessionManagerError(AAError):
    """A session lifecycle command (list, revoke, rotate) was asked for something it cannot do; nothing was sent."""

    hint = "check the account, permission ids and session keys against `signers sessions list`"


class SponsorshipRefusedError(AAError, PolicyViolationError):
    """A sponsor's policy declined to pay for a UserOperation; the paymaster key signed nothing."""

    hint = "send the op without a paymaster (the account pays), or change the sponsor's policy"


_BY_CODE: dict[int, type[BundlerError]] = {
    cls.rpc_code: cls
    for cls in (
        UserOperationRejectedError,
        PaymasterRejectedError,
        OpcodeViolationError,
        OutOfTimeRangeError,
        ThrottledEntityError,
        StakeTooLowError,
        UnsupportedAggregatorError,
        SignatureCheckFailedError,
        ExecutionRevertedError,
        InvalidFieldsError,
        MethodNotFoundError,
    )
    if cls.rpc_code is not None
}


def bundler_error(message: str, *, code: int, method: str, data: Any = None, url: str = "") -> BundlerError:
    """The BundlerError subclass for a JSON-RPC error object."""
    cls = _BY_CODE.get(code, BundlerError)
    return cls(message, code=code, method=method, data=data, url=url)
