"""Just enough ERC-4337 v0.7 / ERC-7579 / Smart Sessions encoding to prove the chain stack, built from raw ABI
pieces so the smoke tests do not depend on the library they are meant to support. The byte layouts are the
ones chain/README.md documents for the Python NexusAccount flavour."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import httpx
from eth_abi import decode, encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import function_signature_to_4byte_selector as selector
from eth_utils import keccak, to_checksum_address

EXECUTE_SINGLE_MODE = bytes(32)  # callType 0x00 (single), execType 0x00 (default), rest zero
SESSION_TYPE = (
    "(address,bytes,bytes32,(address,bytes)[],((bytes32,string[])[],(address,bytes)[]),"
    "(bytes4,address,(address,bytes)[])[],bool)"
)
PACKED_OP_TYPE = "(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)"
# a well-formed 65-byte ECDSA signature that recovers to no owner: what gas estimation needs (length matters)
DUMMY_ECDSA_SIG = b"\x11" * 32 + b"\x22" * 32 + b"\x1b"


class RpcError(RuntimeError):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message')} {error.get('data', '')}")
        self.error = error


class Rpc:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=30)

    def __call__(self, method: str, *params: Any) -> Any:
        reply = self.client.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        body = reply.json()
        if "error" in body:
            raise RpcError(method, body["error"])
        return body["result"]

    def call(self, to: str, signature: str, types: list[str], args: list[Any], out: list[str]) -> tuple[Any, ...]:
        data = selector(signature) + encode(types, args)
        result = self("eth_call", {"to": to, "data": "0x" + data.hex()}, "latest")
        return tuple(decode(out, bytes.fromhex(result[2:])))

    def send(self, sender: str, to: str, data: bytes = b"", value: int = 0) -> dict[str, Any]:
        """A transaction from an unlocked anvil dev account, waited for (anvil automines)."""
        tx = {"from": sender, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
        tx_hash = self("eth_sendTransaction", tx)
        receipt: dict[str, Any] = wait_for(lambda: self("eth_getTransactionReceipt", tx_hash), f"receipt of {tx_hash}")
        return receipt


def wait_for(probe: Any, what: str, timeout: float = 30.0) -> Any:
    """Polls `probe` until it returns something other than None (readiness wait on the chain, not a sleep)."""
    deadline = time.monotonic() + timeout
    while (result := probe()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.05)
    return result


@dataclass(frozen=True)
class UserOp:
    sender: str
    nonce: int
    call_data: bytes
    factory: str | None = None
    factory_data: bytes = b""
    call_gas_limit: int = 0
    verification_gas_limit: int = 0
    pre_verification_gas: int = 0
    max_fee_per_gas: int = 0
    max_priority_fee_per_gas: int = 0
    signature: bytes = b""

    @property
    def init_code(self) -> bytes:
        return bytes.fromhex(self.factory[2:]) + self.factory_data if self.factory else b""

    def packed(self) -> tuple[Any, ...]:
        return (
            self.sender,
            self.nonce,
            self.init_code,
            self.call_data,
            self.verification_gas_limit.to_bytes(16, "big") + self.call_gas_limit.to_bytes(16, "big"),
            self.pre_verification_gas,
            self.max_priority_fee_per_gas.to_bytes(16, "big") + self.max_fee_per_gas.to_bytes(16, "big"),
            b"",  # no paymaster
            self.signature,
        )

    def to_rpc(self) -> dict[str, str]:
        op = {
            "sender": self.sender,
            "nonce": hex(self.nonce),
            "callData": "0x" + self.call_data.hex(),
            "callGasLimit": hex(self.call_gas_limit),
            "verificationGasLimit": hex(self.verification_gas_limit),
            "preVerificationGas": hex(self.pre_verification_gas),
            "maxFeePerGas": hex(self.max_fee_per_gas),
            "maxPriorityFeePerGas": hex(self.max_priority_fee_per_gas),
            "signature": "0x" + self.signature.hex(),
        }
        if self.factory:
            op["factory"] = self.factory
            op["factoryData"] = "0x" + self.factory_data.hex()
        return op


def local_user_op_hash(op: UserOp, entry_point: str, chain_id: int) -> bytes:
    """userOpHash as EntryPoint v0.7 computes it (spec section 1), for a cross-check against getUserOpHash."""
    p = op.packed()
    inner = keccak(
        encode(
            ["address", "uint256", "bytes32", "bytes32", "bytes32", "uint256", "bytes32", "bytes32"],
            [p[0], p[1], keccak(p[2]), keccak(p[3]), p[4], p[5], p[6], keccak(p[7])],
        )
    )
    return keccak(encode(["bytes32", "address", "uint256"], [inner, entry_point, chain_id]))


def onchain_user_op_hash(rpc: Rpc, entry_point: str, op: UserOp) -> bytes:
    (h,) = rpc.call(entry_point, f"getUserOpHash({PACKED_OP_TYPE})", [PACKED_OP_TYPE], [op.packed()], ["bytes32"])
    return bytes(h)


def nonce_key(validator: str, free_key: int = 0, mode: int = 0) -> int:
    """uint192 key = [3 bytes free key][1 byte validation mode][20 bytes validator]."""
    return (free_key << 168) | (mode << 160) | int(validator, 16)


def get_nonce(rpc: Rpc, entry_point: str, sender: str, key: int) -> int:
    (n,) = rpc.call(entry_point, "getNonce(address,uint192)", ["address", "uint192"], [sender, key], ["uint256"])
    return int(n)


def execute_single(target: str, value: int, data: bytes) -> bytes:
    packed = bytes.fromhex(target[2:]) + value.to_bytes(32, "big") + data
    return selector("execute(bytes32,bytes)") + encode(["bytes32", "bytes"], [EXECUTE_SINGLE_MODE, packed])


def nexus_init_data(bootstrap: str, validator: str, validator_data: bytes) -> bytes:
    """Nexus 1.0.1 initData: abi.encode(bootstrap, initNexusWithSingleValidator(validator, data, 0, [], 0))."""
    call = selector("initNexusWithSingleValidator(address,bytes,address,address[],uint8)") + encode(
        ["address", "bytes", "address", "address[]", "uint8"], [validator, validator_data, "0x" + "00" * 20, [], 0]
    )
    return encode(["address", "bytes"], [bootstrap, call])


def create_account_call(init_data: bytes, salt: bytes) -> bytes:
    return selector("createAccount(bytes,bytes32)") + encode(["bytes", "bytes32"], [init_data, salt])


def compute_account_address(rpc: Rpc, factory: str, init_data: bytes, salt: bytes) -> str:
    (addr,) = rpc.call(
        factory, "computeAccountAddress(bytes,bytes32)", ["bytes", "bytes32"], [init_data, salt], ["address"]
    )
    return to_checksum_address(addr)


def personal_sign(private_key: bytes, digest: bytes) -> bytes:
    """EIP-191 personal_sign over a 32-byte hash; r || s || v with v = 27/28."""
    signed = Account.sign_message(encode_defunct(primitive=digest), private_key)
    return bytes(signed.signature)


def session_signature(permission_id: bytes, validator_sig: bytes) -> bytes:
    """Smart Sessions USE mode: 0x00 || permissionId || session validator signature."""
    return b"\x00" + permission_id + validator_sig


def fill_gas(bundler: Rpc, entry_point: str, op: UserOp, stub_signature: bytes) -> UserOp:
    prices = bundler("pimlico_getUserOperationGasPrice")["fast"]
    op = replace(
        op,
        signature=stub_signature,
        max_fee_per_gas=int(prices["maxFeePerGas"], 16),
        max_priority_fee_per_gas=int(prices["maxPriorityFeePerGas"], 16),
    )
    est = bundler("eth_estimateUserOperationGas", op.to_rpc(), entry_point)
    return replace(
        op,
        call_gas_limit=int(est["callGasLimit"], 16),
        verification_gas_limit=int(est["verificationGasLimit"], 16),
        pre_verification_gas=int(est["preVerificationGas"], 16),
    )


def send_user_op(bundler: Rpc, entry_point: str, op: UserOp) -> dict[str, Any]:
    """Sends through the bundler and waits for the receipt (bundler receipts are polled: readiness, not sleep)."""
    user_op_hash = bundler("eth_sendUserOperation", op.to_rpc(), entry_point)
    receipt: dict[str, Any] = wait_for(
        lambda: bundler("eth_getUserOperationReceipt", user_op_hash), f"receipt of {user_op_hash}"
    )
    return receipt


def session_tuple(
    session_validator: str,
    validator_init: bytes,
    salt: bytes,
    user_op_policies: list[tuple[str, bytes]],
    actions: list[tuple[bytes, str, list[tuple[str, bytes]]]],
) -> tuple[Any, ...]:
    return (session_validator, validator_init, salt, user_op_policies, ([], []), actions, False)


def permission_id(session_validator: str, validator_init: bytes, salt: bytes) -> bytes:
    return keccak(encode(["address", "bytes", "bytes32"], [session_validator, validator_init, salt]))


def enable_sessions_call(sessions: list[tuple[Any, ...]]) -> bytes:
    return selector(f"enableSessions({SESSION_TYPE}[])") + encode([f"{SESSION_TYPE}[]"], [sessions])
