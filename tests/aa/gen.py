"""Random inputs for the cross-check: each generator returns the Python object and the SDK's JSON for it."""

from __future__ import annotations

import random
from typing import Any

import coincurve
from eth_utils import to_checksum_address

from signers.aa import ActionPolicyInfo, CreateSessionDataParams, LimitUsage, Rule, TokenLimit, UserOperation


def hexs(data: bytes) -> str:
    return "0x" + data.hex()


def rbytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def address(rng: random.Random) -> str:
    return to_checksum_address(rbytes(rng, 20))


def private_key(rng: random.Random) -> bytes:
    while True:
        key = rbytes(rng, 32)
        try:
            coincurve.PrivateKey(key)
            return key
        except ValueError:
            continue


def key_address(key: bytes) -> str:
    from eth_hash.auto import keccak

    return to_checksum_address(keccak(coincurve.PrivateKey(key).public_key.format(compressed=False)[1:])[12:])


def uint(rng: random.Random, bits: int) -> int:
    """Edge values more often than a uniform draw would give them."""
    choice = rng.random()
    if choice < 0.1:
        return 0
    if choice < 0.2:
        return (1 << bits) - 1
    if choice < 0.5:
        return rng.getrandbits(rng.randint(1, 32))
    return rng.getrandbits(bits)


def rule(rng: random.Random) -> tuple[Rule, dict[str, Any]]:
    kind = rng.choice(["address", "address_lower", "bigint", "number", "bool", "hex"])
    if kind == "address":
        py: Any = address(rng)
        js = {"t": "address", "v": py}
    elif kind == "address_lower":
        py = address(rng).lower()
        js = {"t": "address", "v": py}
    elif kind == "bigint":
        py = uint(rng, 256)
        js = {"t": "bigint", "v": str(py)}
    elif kind == "number":
        py = rng.randint(0, 2**31)
        js = {"t": "number", "v": py}
    elif kind == "bool":
        py = rng.random() < 0.5
        js = {"t": "bool", "v": py}
    else:
        py = hexs(rbytes(rng, 32))
        js = {"t": "hex", "v": py}
    condition = rng.randint(0, 5)
    offset_index = rng.randint(0, 12)
    is_limited = rng.random() < 0.5
    usage = LimitUsage(uint(rng, 256), uint(rng, 256))
    return (
        Rule(condition, offset_index, py, is_limited, usage),
        {
            "condition": condition,
            "offsetIndex": offset_index,
            "isLimited": is_limited,
            "ref": js,
            "usage": {"limit": str(usage.limit), "used": str(usage.used)},
        },
    )


_TRANSFER_INPUTS = [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}]
_PAIR = {
    "name": "pair",
    "type": "tuple",
    "components": [{"name": "a", "type": "address"}, {"name": "b", "type": "bytes"}],
}
ABI_FUNCTIONS: list[dict[str, Any]] = [
    {"type": "function", "name": "transfer", "stateMutability": "nonpayable", "inputs": _TRANSFER_INPUTS,
     "outputs": [{"type": "bool"}]},
    {"type": "function", "name": "increment", "stateMutability": "nonpayable", "inputs": [], "outputs": []},
    {"type": "function", "name": "setData", "stateMutability": "nonpayable",
     "inputs": [{"name": "key", "type": "bytes32"}, {"name": "values", "type": "uint256[]"}, _PAIR], "outputs": []},
    {"type": "event", "name": "Transfer", "anonymous": False,
     "inputs": [{"name": "from", "type": "address", "indexed": True}]},
]  # fmt: skip


def action(rng: random.Random) -> tuple[ActionPolicyInfo, dict[str, Any]]:
    target = address(rng)
    py: dict[str, Any] = {"contract_address": target}
    js: dict[str, Any] = {"contractAddress": target}
    if rng.random() < 0.15:
        abi = rng.sample(ABI_FUNCTIONS, rng.randint(1, len(ABI_FUNCTIONS)))
        py["abi"] = abi
        js["abi"] = abi
    else:
        selector = rng.choice([hexs(rbytes(rng, 4)), "0xffffffff", "0xa9059cbb"])
        py["function_selector"] = selector
        js["functionSelector"] = selector
        n_rules = rng.choice([0, 0, 1, 2, 3, 5, 16])
        if n_rules or rng.random() < 0.3:
            pairs = [rule(rng) for _ in range(n_rules)]
            py["rules"] = [p for p, _ in pairs]
            js["rules"] = [j for _, j in pairs]
    if rng.random() < 0.5:
        py["sudo"] = js["sudo"] = rng.random() < 0.5
    # validity is always explicit: the SDK's default ("now + 1 year" at import time) is not reproducible
    py["valid_until"] = js["validUntil"] = rng.choice([0, uint(rng, 48), 2**48 - 1, 1_900_000_000])
    py["valid_after"] = js["validAfter"] = rng.choice([0, uint(rng, 48)])
    if rng.random() < 0.5:
        value = rng.choice([0, uint(rng, 256)])
        py["value_limit"] = value
        js["valueLimit"] = str(value)
    if rng.random() < 0.5:
        value = rng.choice([0, uint(rng, 128)])
        py["usage_limit"] = value
        js["usageLimit"] = str(value)
    if rng.random() < 0.4:
        limits = [(address(rng), uint(rng, 256)) for _ in range(rng.randint(0, 3))]
        py["token_limits"] = [TokenLimit(t, v) for t, v in limits]
        js["tokenLimits"] = [{"token": t, "limit": str(v)} for t, v in limits]
    return ActionPolicyInfo(**py), js


def session_params(rng: random.Random) -> tuple[CreateSessionDataParams, dict[str, Any]]:
    key = address(rng)
    salt = hexs(rbytes(rng, 32))
    pairs = [action(rng) for _ in range(rng.randint(0, 3))]
    until = rng.choice([0, uint(rng, 48), 1_900_000_000])
    after = rng.choice([0, uint(rng, 48)])
    py = CreateSessionDataParams(
        session_public_key=key,
        action_policies_info=[p for p, _ in pairs],
        session_valid_until=until,
        session_valid_after=after,
        salt=salt,
    )
    js = {
        "sessionPublicKey": key,
        "actionPoliciesInfo": [j for _, j in pairs],
        "sessionValidUntil": until,
        "sessionValidAfter": after,
        "salt": salt,
    }
    return py, js


def user_operation(
    rng: random.Random, *, sender: str | None = None, nonce: int | None = None
) -> tuple[UserOperation, dict[str, Any]]:
    op = UserOperation(
        sender=sender or address(rng),
        nonce=uint(rng, 256) if nonce is None else nonce,
        call_data=rbytes(rng, rng.choice([0, 4, 36, 100, 333])),
        call_gas_limit=uint(rng, 128),
        verification_gas_limit=uint(rng, 128),
        pre_verification_gas=uint(rng, 256),
        max_fee_per_gas=uint(rng, 128),
        max_priority_fee_per_gas=uint(rng, 128),
        signature=rbytes(rng, rng.choice([0, 65, 98])),
    )
    if rng.random() < 0.5:
        op = op.replace(factory=address(rng), factory_data=rbytes(rng, rng.choice([0, 4, 200])))
    if rng.random() < 0.5:
        op = op.replace(
            paymaster=address(rng),
            paymaster_verification_gas_limit=uint(rng, 128),
            paymaster_post_op_gas_limit=uint(rng, 128),
            paymaster_data=rbytes(rng, rng.choice([0, 20, 97])),
        )
    return op, user_operation_json(op)


def user_operation_json(op: UserOperation) -> dict[str, Any]:
    js: dict[str, Any] = {
        "sender": op.sender,
        "nonce": str(op.nonce),
        "callData": hexs(op.call_data),
        "callGasLimit": str(op.call_gas_limit),
        "verificationGasLimit": str(op.verification_gas_limit),
        "preVerificationGas": str(op.pre_verification_gas),
        "maxFeePerGas": str(op.max_fee_per_gas),
        "maxPriorityFeePerGas": str(op.max_priority_fee_per_gas),
        "signature": hexs(op.signature),
    }
    if op.factory is not None:
        js.update(factory=op.factory, factoryData=hexs(op.factory_data))
    if op.paymaster is not None:
        js.update(
            paymaster=op.paymaster,
            paymasterVerificationGasLimit=str(op.paymaster_verification_gas_limit),
            paymasterPostOpGasLimit=str(op.paymaster_post_op_gas_limit),
            paymasterData=hexs(op.paymaster_data),
        )
    return js


def calls(rng: random.Random, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    py, js = [], []
    for _ in range(n):
        to = address(rng)
        value = rng.choice([None, 0, uint(rng, 256)])
        data = rng.choice([None, "0x", hexs(rbytes(rng, rng.choice([1, 4, 68, 129])))])
        item: dict[str, Any] = {"to": to}
        jitem: dict[str, Any] = {"to": to}
        if value is not None:
            item["value"] = value
            jitem["value"] = str(value)
        if data is not None:
            item["data"] = data
            jitem["data"] = data
        py.append(item)
        js.append(jitem)
    return py, js
