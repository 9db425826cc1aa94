"""ERC-4337 v0.7 UserOperation: the JSON-RPC form, the packed on-chain form, and the userOpHash.

Identical to viem's ``formatUserOperationRequest``, ``toPackedUserOperation`` and ``getUserOperationHash``
(entryPointVersion "0.7"), which the Startale SDK uses; tests/aa/test_sdk_crosscheck.py compares them.
Core, like transactions; ``signers.aa`` builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .hexutil import BytesLike, parse_quantity, quantity, to_address, to_bytes, to_hex, uint
from .keccak import keccak


@dataclass(frozen=True)
class PackedUserOperation:
    """The struct the EntryPoint v0.7 takes in handleOps."""

    sender: str
    nonce: int
    init_code: bytes
    call_data: bytes
    account_gas_limits: bytes  # uint128 verificationGasLimit || uint128 callGasLimit
    pre_verification_gas: int
    gas_fees: bytes  # uint128 maxPriorityFeePerGas || uint128 maxFeePerGas
    paymaster_and_data: bytes
    signature: bytes

    ABI_TYPE = "(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)"

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.sender,
            self.nonce,
            self.init_code,
            self.call_data,
            self.account_gas_limits,
            self.pre_verification_gas,
            self.gas_fees,
            self.paymaster_and_data,
            self.signature,
        )


@dataclass(frozen=True)
class UserOperation:
    """A v0.7 UserOperation. Byte fields take bytes or 0x hex; addresses any case (stored checksummed).

    ``factory`` / ``paymaster`` None means absent (no initCode / no paymasterAndData). Use
    ``dataclasses.replace`` (or ``op.replace(...)``) to fill gas values and the signature.
    """

    sender: str
    nonce: int
    call_data: bytes = b""
    call_gas_limit: int = 0
    verification_gas_limit: int = 0
    pre_verification_gas: int = 0
    max_fee_per_gas: int = 0
    max_priority_fee_per_gas: int = 0
    factory: str | None = None
    factory_data: bytes = b""
    paymaster: str | None = None
    paymaster_verification_gas_limit: int = 0
    paymaster_post_op_gas_limit: int = 0
    paymaster_data: bytes = b""
    signature: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "sender", to_address(self.sender, "sender"))
        if self.factory is not None:
            set_(self, "factory", to_address(self.factory, "factory"))
        if self.paymaster is not None:
            set_(self, "paymaster", to_address(self.paymaster, "paymaster"))
        for name in ("call_data", "factory_data", "paymaster_data", "signature"):
            set_(self, name, to_bytes(getattr(self, name), name))
        uint(self.nonce, 256, "nonce")
        uint(self.pre_verification_gas, 256, "pre_verification_gas")
        for name in (
            "call_gas_limit",
            "verification_gas_limit",
            "max_fee_per_gas",
            "max_priority_fee_per_gas",
            "paymaster_verification_gas_limit",
            "paymaster_post_op_gas_limit",
        ):
            uint(getattr(self, name), 128, name)  # packed into 16 bytes on-chain

    def replace(self, **changes: Any) -> UserOperation:
        return replace(self, **changes)

    # -- derived on-chain fields ---------------------------------------------------------------------------
    @property
    def init_code(self) -> bytes:
        if self.factory is None:
            return b""
        return to_bytes(self.factory) + self.factory_data

    @property
    def paymaster_and_data(self) -> bytes:
        if self.paymaster is None:
            return b""
        return (
            to_bytes(self.paymaster)
            + self.paymaster_verification_gas_limit.to_bytes(16, "big")
            + self.paymaster_post_op_gas_limit.to_bytes(16, "big")
            + self.paymaster_data
        )

    @property
    def max_gas(self) -> int:
        """Every gas limit the op sets (paymaster's included): what the EntryPoint's prefund is made of."""
        return (
            self.call_gas_limit
            + self.verification_gas_limit
            + self.pre_verification_gas
            + self.paymaster_verification_gas_limit
            + self.paymaster_post_op_gas_limit
        )

    @property
    def max_cost_wei(self) -> int:
        """The most the op can be charged: ``max_gas * maxFeePerGas`` (the EntryPoint's required prefund)."""
        return self.max_gas * self.max_fee_per_gas

    def packed(self) -> PackedUserOperation:
        return PackedUserOperation(
            sender=self.sender,
            nonce=self.nonce,
            init_code=self.init_code,
            call_data=self.call_data,
            account_gas_limits=self.verification_gas_limit.to_bytes(16, "big")
            + self.call_gas_limit.to_bytes(16, "big"),
            pre_verification_gas=self.pre_verification_gas,
            gas_fees=self.max_priority_fee_per_gas.to_bytes(16, "big") + self.max_fee_per_gas.to_bytes(16, "big"),
            paymaster_and_data=self.paymaster_and_data,
            signature=self.signature,
        )

    # -- JSON-RPC form (eth_sendUserOperation / eth_estimateUserOperationGas, v0.7) -------------------------
    def to_rpc(self) -> dict[str, str]:
        """The v0.7 JSON-RPC object: minimal hex quantities; factory and paymaster fields only when present."""
        rpc: dict[str, str] = {
            "sender": self.sender,
            "nonce": quantity(self.nonce),
            "callData": to_hex(self.call_data),
            "callGasLimit": quantity(self.call_gas_limit),
            "verificationGasLimit": quantity(self.verification_gas_limit),
            "preVerificationGas": quantity(self.pre_verification_gas),
            "maxFeePerGas": quantity(self.max_fee_per_gas),
            "maxPriorityFeePerGas": quantity(self.max_priority_fee_per_gas),
            "signature": to_hex(self.signature),
        }
        if self.factory is not None:
            rpc["factory"] = self.factory
            rpc["factoryData"] = to_hex(self.factory_data)
        if self.paymaster is not None:
            rpc["paymaster"] = self.paymaster
            rpc["paymasterVerificationGasLimit"] = quantity(self.paymaster_verification_gas_limit)
            rpc["paymasterPostOpGasLimit"] = quantity(self.paymaster_post_op_gas_limit)
            rpc["paymasterData"] = to_hex(self.paymaster_data)
        return rpc

    @classmethod
    def from_rpc(cls, rpc: dict[str, Any]) -> UserOperation:
        """Parse the JSON-RPC object (what eth_getUserOperationByHash returns, or a dict made by ``to_rpc``)."""

        def q(name: str) -> int:
            value = rpc.get(name)
            return 0 if value is None else parse_quantity(value, name)

        def b(name: str) -> BytesLike:
            value = rpc.get(name)
            return b"" if value is None else value

        factory = rpc.get("factory") or None
        paymaster = rpc.get("paymaster") or None
        return cls(
            sender=rpc["sender"],
            nonce=q("nonce"),
            call_data=to_bytes(b("callData"), "callData"),
            call_gas_limit=q("callGasLimit"),
            verification_gas_limit=q("verificationGasLimit"),
            pre_verification_gas=q("preVerificationGas"),
            max_fee_per_gas=q("maxFeePerGas"),
            max_priority_fee_per_gas=q("maxPriorityFeePerGas"),
            factory=factory,
            factory_data=to_bytes(b("factoryData"), "factoryData"),
            paymaster=paymaster,
            paymaster_verification_gas_limit=q("paymasterVerificationGasLimit"),
            paymaster_post_op_gas_limit=q("paymasterPostOpGasLimit"),
            paymaster_data=to_bytes(b("paymasterData"), "paymasterData"),
            signature=to_bytes(b("signature"), "signature"),
        )


def user_operation_hash(op: UserOperation, entry_point: str, chain_id: int) -> bytes:
    """The v0.7 userOpHash: keccak(abi.encode(keccak(pack(op)), entryPoint, chainId)). The signature is not in it.

    Every field of both encodings is a static ABI type (address, uint256, bytes32), so abi.encode is the
    concatenation of 32-byte words: written out here (eth-abi costs ~40 us per op on the signing path). The
    op's fields were range-checked when it was built; ``entry_point`` and ``chain_id`` are checked here.
    """
    uint(chain_id, 256, "chain_id")
    inner = b"".join(
        (
            _ADDRESS_PAD,
            bytes.fromhex(op.sender[2:]),  # stored checksummed by __post_init__
            op.nonce.to_bytes(32, "big"),
            keccak(op.init_code) if op.factory is not None else _EMPTY_KECCAK,
            keccak(op.call_data),
            # two uint128 in one word (accountGasLimits, gasFees): both were checked to fit 128 bits
            (op.verification_gas_limit << 128 | op.call_gas_limit).to_bytes(32, "big"),
            op.pre_verification_gas.to_bytes(32, "big"),
            (op.max_priority_fee_per_gas << 128 | op.max_fee_per_gas).to_bytes(32, "big"),
            keccak(op.paymaster_and_data) if op.paymaster is not None else _EMPTY_KECCAK,
        )
    )
    entry = to_bytes(entry_point, "entry_point", 20)
    return keccak(keccak(inner) + _ADDRESS_PAD + entry + chain_id.to_bytes(32, "big"))


_EMPTY_KECCAK = keccak(b"")  # no factory, no paymaster: the usual op
_ADDRESS_PAD = bytes(12)  # an address as an ABI word: left-padded to 32 bytes
