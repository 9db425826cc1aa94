"""ERC-7579 account calls: execute (single and batch), installModule, isModuleInstalled.

``encode_execute`` follows the Startale SDK's ``encodeCalls``: exactly one call is a single-mode execute with
the packed ``target ‖ value ‖ data`` execution; two or more are a batch-mode execute over
``abi.encode(Execution[])``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from .errors import AAConfigurationError
from .hexutil import BytesLike, to_address, to_bytes, uint

EXECUTE_SELECTOR = function_signature_to_4byte_selector("execute(bytes32,bytes)")  # 0xe9ae5c53
INSTALL_MODULE_SELECTOR = function_signature_to_4byte_selector("installModule(uint256,address,bytes)")  # 0x9517e29f
UNINSTALL_MODULE_SELECTOR = function_signature_to_4byte_selector("uninstallModule(uint256,address,bytes)")
IS_MODULE_INSTALLED_SELECTOR = function_signature_to_4byte_selector("isModuleInstalled(uint256,address,bytes)")

CALLTYPE_SINGLE = 0x00
CALLTYPE_BATCH = 0x01
CALLTYPE_DELEGATECALL = 0xFF
EXECTYPE_DEFAULT = 0x00
EXECTYPE_TRY = 0x01

# ModeCode = callType(1) ‖ execType(1) ‖ unused(4) ‖ modeSelector(4) ‖ modePayload(22)
MODE_SINGLE = bytes([CALLTYPE_SINGLE]) + bytes(31)
MODE_BATCH = bytes([CALLTYPE_BATCH]) + bytes(31)

# Native value transfers (calldata shorter than 4 bytes) match this selector in Smart Sessions.
VALUE_TRANSFER_SELECTOR = b"\xff\xff\xff\xff"

_EXECUTIONS = "(address,uint256,bytes)[]"


class ModuleType(IntEnum):
    VALIDATOR = 1
    EXECUTOR = 2
    FALLBACK = 3
    HOOK = 4


@dataclass(frozen=True)
class Call:
    """One execution: ``to`` with ``value`` wei and ``data`` calldata (viem's ``{to, value, data}``)."""

    to: str
    value: int = 0
    data: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "to", to_address(self.to, "call target"))
        object.__setattr__(self, "data", to_bytes(self.data, "call data"))
        uint(self.value, 256, "call value")

    @property
    def selector(self) -> bytes:
        """The 4-byte selector Smart Sessions matches: ``0xffffffff`` for a call with less than 4 bytes."""
        return self.data[:4] if len(self.data) >= 4 else VALUE_TRANSFER_SELECTOR


def as_call(call: Call | dict[str, object]) -> Call:
    if isinstance(call, Call):
        return call
    return Call(to=call["to"], value=int(call.get("value", 0) or 0), data=call.get("data", b"") or b"")  # type: ignore[arg-type, call-overload]


def encode_execution_single(call: Call) -> bytes:
    return to_bytes(call.to) + call.value.to_bytes(32, "big") + call.data


def encode_execution_batch(calls: Sequence[Call]) -> bytes:
    return encode([_EXECUTIONS], [[(c.to, c.value, c.data) for c in calls]])


def encode_execute_single(call: Call | dict[str, object]) -> bytes:
    return EXECUTE_SELECTOR + encode(["bytes32", "bytes"], [MODE_SINGLE, encode_execution_single(as_call(call))])


def encode_execute_batch(calls: Sequence[Call | dict[str, object]]) -> bytes:
    items = [as_call(c) for c in calls]
    return EXECUTE_SELECTOR + encode(["bytes32", "bytes"], [MODE_BATCH, encode_execution_batch(items)])


def encode_execute(calls: Sequence[Call | dict[str, object]]) -> bytes:
    """``execute(mode, executionCalldata)`` calldata for one call (single mode) or several (batch mode)."""
    if not calls:
        raise AAConfigurationError("encode_execute needs at least one call")
    if len(calls) == 1:
        return encode_execute_single(calls[0])
    return encode_execute_batch(calls)


@dataclass(frozen=True)
class DecodedExecute:
    mode: bytes
    calls: list[Call]

    @property
    def call_type(self) -> int:
        return self.mode[0]

    @property
    def exec_type(self) -> int:
        return self.mode[1]


def decode_execute(call_data: BytesLike) -> DecodedExecute:
    """Parse ``execute(mode, executionCalldata)`` back into calls (single and batch call types)."""
    mode, calls = _decode_execute(to_bytes(call_data, "callData"))
    return DecodedExecute(mode, list(calls))


@functools.lru_cache(maxsize=256)
def _decode_execute(data: bytes) -> tuple[bytes, tuple[Call, ...]]:
    # remembered: the scope check, the limit check and the pending count each read the op being signed (an
    # immutable result: the caller gets a list of its own; a malformed op raises every time)
    if data[:4] != EXECUTE_SELECTOR:
        raise AAConfigurationError(f"callData is not execute(bytes32,bytes): selector 0x{data[:4].hex()}")
    try:
        mode, execution = decode(["bytes32", "bytes"], data[4:])
    except Exception as error:  # eth_abi raises several types for malformed input
        raise AAConfigurationError(f"callData: malformed execute arguments ({error})") from None
    if mode[0] == CALLTYPE_SINGLE:
        if len(execution) < 52:
            raise AAConfigurationError("callData: single execution shorter than target ‖ value")
        call = Call(to=execution[:20], value=int.from_bytes(execution[20:52], "big"), data=execution[52:])
        return mode, (call,)
    if mode[0] == CALLTYPE_BATCH:
        try:
            (rows,) = decode([_EXECUTIONS], execution)
        except Exception as error:
            raise AAConfigurationError(f"callData: malformed batch executions ({error})") from None
        return mode, tuple(Call(to=t, value=v, data=d) for t, v, d in rows)
    return mode, ()


def encode_install_module(type_id: int, module: str, init_data: BytesLike = b"") -> bytes:
    """``installModule(moduleTypeId, module, initData)``: a self-call of the account."""
    return INSTALL_MODULE_SELECTOR + encode(
        ["uint256", "address", "bytes"], [int(type_id), to_address(module, "module"), to_bytes(init_data, "init_data")]
    )


def encode_uninstall_module(type_id: int, module: str, deinit_data: BytesLike = b"") -> bytes:
    return UNINSTALL_MODULE_SELECTOR + encode(
        ["uint256", "address", "bytes"],
        [int(type_id), to_address(module, "module"), to_bytes(deinit_data, "deinit_data")],
    )


def encode_is_module_installed(type_id: int, module: str, additional_context: BytesLike = b"") -> bytes:
    """``isModuleInstalled(moduleTypeId, module, additionalContext)``: an eth_call on the account."""
    return IS_MODULE_INSTALLED_SELECTOR + encode(
        ["uint256", "address", "bytes"],
        [int(type_id), to_address(module, "module"), to_bytes(additional_context, "additional_context")],
    )


def decode_bool(result: BytesLike) -> bool:
    data = to_bytes(result, "eth_call result")
    if len(data) != 32:
        raise AAConfigurationError(f"expected an ABI bool (32 bytes), got {len(data)} bytes")
    return bool(int.from_bytes(data, "big"))
