"""ERC-4337 bundler client (eth_* UserOperation methods) and ERC-7677 paymaster client.

Every JSON-RPC error becomes a ``BundlerError`` subclass chosen by its code (ERC-7769), carrying ``code``,
``aa_code`` (e.g. "AA23") and ``data``; see signers/aa/errors.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import (
    SENT_IN_DOUBT_HINT,
    BundlerError,
    MethodNotFoundError,
    RpcError,
    RpcUnavailableError,
    UserOperationFailedError,
    UserOperationTimeoutError,
    bundler_error,
)
from .hexutil import BytesLike, parse_quantity, quantity, to_address, to_bytes, to_hex
from .rpc import JsonRpcClient
from .user_operation import UserOperation


@dataclass(frozen=True)
class GasEstimate:
    pre_verification_gas: int
    verification_gas_limit: int
    call_gas_limit: int
    paymaster_verification_gas_limit: int | None = None
    paymaster_post_op_gas_limit: int | None = None

    def apply(self, op: UserOperation) -> UserOperation:
        changes: dict[str, int] = {
            "pre_verification_gas": self.pre_verification_gas,
            "verification_gas_limit": self.verification_gas_limit,
            "call_gas_limit": self.call_gas_limit,
        }
        if op.paymaster is not None:
            if self.paymaster_verification_gas_limit is not None:
                changes["paymaster_verification_gas_limit"] = self.paymaster_verification_gas_limit
            if self.paymaster_post_op_gas_limit is not None:
                changes["paymaster_post_op_gas_limit"] = self.paymaster_post_op_gas_limit
        return op.replace(**changes)


@dataclass(frozen=True)
class GasFees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


def _optional_quantity(result: dict[str, Any], name: str) -> int | None:
    value = result.get(name)
    return None if value is None else parse_quantity(value, name)


class BundlerClient:
    """An ERC-4337 bundler over JSON-RPC (Alto, Rundler, Startale's SCS bundler...)."""

    def __init__(
        self, url: str, *, timeout: float = 30.0, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        self.rpc = JsonRpcClient(url, timeout=timeout, headers=headers, error_factory=bundler_error, **kwargs)

    def __repr__(self) -> str:
        return f"BundlerClient({self.rpc.display_url!r})"

    def close(self) -> None:
        self.rpc.close()

    def __enter__(self) -> BundlerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_user_operation(self, op: UserOperation, entry_point: str) -> bytes:
        """eth_sendUserOperation: the userOpHash the bundler computed."""
        try:
            answer = self.rpc.request("eth_sendUserOperation", [op.to_rpc(), to_address(entry_point)])
        except RpcUnavailableError as error:  # unlike a read, this one may have had its effect
            raise RpcUnavailableError(error.message, hint=SENT_IN_DOUBT_HINT) from None
        return to_bytes(answer, "userOpHash", 32)

    def estimate_user_operation_gas(
        self, op: UserOperation, entry_point: str, state_override: dict[str, Any] | None = None
    ) -> GasEstimate:
        params: list[Any] = [op.to_rpc(), to_address(entry_point)]
        if state_override:
            params.append(state_override)
        result = self.rpc.request("eth_estimateUserOperationGas", params)
        if not isinstance(result, dict):
            raise BundlerError(f"unexpected estimate: {result!r}", code=0, method="eth_estimateUserOperationGas")
        return GasEstimate(
            pre_verification_gas=parse_quantity(result["preVerificationGas"], "preVerificationGas"),
            verification_gas_limit=parse_quantity(result["verificationGasLimit"], "verificationGasLimit"),
            call_gas_limit=parse_quantity(result["callGasLimit"], "callGasLimit"),
            paymaster_verification_gas_limit=_optional_quantity(result, "paymasterVerificationGasLimit"),
            paymaster_post_op_gas_limit=_optional_quantity(result, "paymasterPostOpGasLimit"),
        )

    def get_user_operation_receipt(self, user_op_hash: BytesLike) -> dict[str, Any] | None:
        """The receipt, or None while the op is not included."""
        result = self.rpc.request("eth_getUserOperationReceipt", [to_hex(to_bytes(user_op_hash, "userOpHash", 32))])
        return result if result else None

    def get_user_operation_by_hash(self, user_op_hash: BytesLike) -> dict[str, Any] | None:
        """``{userOperation: UserOperation, entryPoint, blockNumber, blockHash, transactionHash}`` or None."""
        result = self.rpc.request("eth_getUserOperationByHash", [to_hex(to_bytes(user_op_hash, "userOpHash", 32))])
        if not result:
            return None
        out = dict(result)
        out["userOperation"] = UserOperation.from_rpc(result["userOperation"])
        return out

    def supported_entry_points(self) -> list[str]:
        return [to_address(a) for a in self.rpc.request("eth_supportedEntryPoints")]

    def chain_id(self) -> int:
        return parse_quantity(self.rpc.request("eth_chainId"), "eth_chainId")

    def gas_fees(self) -> GasFees | None:
        """The bundler's fee suggestion (Alto/Pimlico's standard tier), or None if it has none."""
        try:
            result = self.rpc.request("pimlico_getUserOperationGasPrice")
        except MethodNotFoundError:
            return None
        except RpcError as error:  # some bundlers answer unknown methods with -32602 or 0
            if error.code in (-32602, -32600, 0):
                return None
            raise
        tier = result.get("standard") or result.get("fast")
        return GasFees(
            max_fee_per_gas=parse_quantity(tier["maxFeePerGas"], "maxFeePerGas"),
            max_priority_fee_per_gas=parse_quantity(tier["maxPriorityFeePerGas"], "maxPriorityFeePerGas"),
        )

    def wait_for_receipt(
        self,
        user_op_hash: BytesLike,
        *,
        timeout: float = 60.0,
        poll_interval: float = 0.25,
        check: bool = True,
    ) -> dict[str, Any]:
        """Poll until the op is included. ``check``: raise UserOperationFailedError if its calls reverted.

        A bundler that stops answering for a while (a restart, a dropped connection) is polled again until the
        timeout: the op may be included meanwhile, and giving up early would leave the caller without its fate.
        """
        op_hash = to_hex(to_bytes(user_op_hash, "userOpHash", 32))
        deadline = time.monotonic() + timeout
        unreachable: RpcUnavailableError | None = None
        while True:
            try:
                receipt = self.get_user_operation_receipt(op_hash)
            except RpcUnavailableError as error:
                receipt, unreachable = None, error
            if receipt is not None:
                if check and receipt.get("success") is False:
                    reason = receipt.get("reason") or "no reason given"
                    raise UserOperationFailedError(
                        f"UserOperation {op_hash} was included but reverted: {reason}",
                        user_op_hash=op_hash,
                        receipt=receipt,
                    )
                return receipt
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                last = f"; the bundler's last answer: {unreachable.message}" if unreachable is not None else ""
                raise UserOperationTimeoutError(
                    f"UserOperation {op_hash} not included within {timeout:g} s{last}", user_op_hash=op_hash
                )
            time.sleep(min(poll_interval, remaining))  # a library poll loop; tests wait on this, not on sleeps


# -- ERC-7677 paymaster ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaymasterData:
    paymaster: str
    paymaster_data: bytes
    paymaster_verification_gas_limit: int | None = None
    paymaster_post_op_gas_limit: int | None = None
    is_final: bool = False
    sponsor: dict[str, Any] | None = None

    def apply(self, op: UserOperation) -> UserOperation:
        changes: dict[str, Any] = {"paymaster": self.paymaster, "paymaster_data": self.paymaster_data}
        if self.paymaster_verification_gas_limit is not None:
            changes["paymaster_verification_gas_limit"] = self.paymaster_verification_gas_limit
        if self.paymaster_post_op_gas_limit is not None:
            changes["paymaster_post_op_gas_limit"] = self.paymaster_post_op_gas_limit
        return op.replace(**changes)


class Paymaster(Protocol):
    """The two hooks the flows call: stub data before gas estimation, final data before signing."""

    def stub_data(self, op: UserOperation, entry_point: str, chain_id: int) -> PaymasterData: ...

    def data(self, op: UserOperation, entry_point: str, chain_id: int) -> PaymasterData: ...


def _paymaster_data(result: dict[str, Any]) -> PaymasterData:
    return PaymasterData(
        paymaster=to_address(result["paymaster"], "paymaster"),
        paymaster_data=to_bytes(result.get("paymasterData") or b"", "paymasterData"),
        paymaster_verification_gas_limit=_optional_quantity(result, "paymasterVerificationGasLimit"),
        paymaster_post_op_gas_limit=_optional_quantity(result, "paymasterPostOpGasLimit"),
        is_final=bool(result.get("isFinal", False)),
        sponsor=result.get("sponsor"),
    )


class PaymasterClient:
    """An ERC-7677 paymaster service (pm_getPaymasterStubData / pm_getPaymasterData)."""

    def __init__(
        self, url: str, *, context: dict[str, Any] | None = None, timeout: float = 30.0, **kwargs: Any
    ) -> None:
        self.context = context or {}
        self.rpc = JsonRpcClient(url, timeout=timeout, error_factory=bundler_error, **kwargs)

    def __repr__(self) -> str:
        return f"PaymasterClient({self.rpc.display_url!r})"

    def close(self) -> None:
        self.rpc.close()

    def _params(self, op: UserOperation, entry_point: str, chain_id: int) -> list[Any]:
        rpc = op.to_rpc()
        rpc.pop("signature", None)  # ERC-7677 passes the op without its signature
        for name in ("paymaster", "paymasterData", "paymasterVerificationGasLimit", "paymasterPostOpGasLimit"):
            rpc.pop(name, None)
        return [rpc, to_address(entry_point), quantity(chain_id), self.context]

    def stub_data(self, op: UserOperation, entry_point: str, chain_id: int) -> PaymasterData:
        return _paymaster_data(self.rpc.request("pm_getPaymasterStubData", self._params(op, entry_point, chain_id)))

    def data(self, op: UserOperation, entry_point: str, chain_id: int) -> PaymasterData:
        return _paymaster_data(self.rpc.request("pm_getPaymasterData", self._params(op, entry_point, chain_id)))
