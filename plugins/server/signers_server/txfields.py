"""A JSON-RPC transaction object (what ethers, viem and web3.py send) as the dict the core signs.

Every field ethers and viem send for types 0-4 is read: access lists, blob hashes and blobs, EIP-7702
authorization lists. A field this service cannot honour is refused by name (-32602), never dropped: a
dropped field would change what the signature authorises. Serialisation and hashing stay in the core
(``signers.transactions``); this module only checks and converts the JSON form.
"""

from __future__ import annotations

from typing import Any

from . import params
from .errors import invalid_params
from .upstream import Upstream

#: the JSON-RPC quantity fields of a transaction (hex numbers); the Python client forwards the same ones
QUANTITIES = (
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "maxFeePerBlobGas",
    "value",
    "nonce",
    "chainId",
    "type",
)
_KNOWN = {
    *QUANTITIES,
    "from",
    "to",
    "data",
    "input",
    "gasLimit",
    "accessList",
    "authorizationList",
    "blobVersionedHashes",
    "blobs",
}
_BLOB_SIZE = 131072
_TYPES = (0, 1, 2, 3, 4)


def parse_transaction(tx: Any, where: str = "params[0]") -> tuple[dict[str, Any], list[bytes] | None]:
    """(eth-account fields, blobs) from a JSON-RPC transaction. ``from`` is kept for the key lookup."""
    tx = params.obj(tx, where)
    unknown = sorted(set(tx) - _KNOWN)
    if unknown:
        raise invalid_params(f"{where}.{unknown[0]}: this service cannot honour that field, so it signs nothing")
    out = _quantities(tx, where)
    if tx.get("from") is not None:
        out["from"] = params.address(tx["from"], f"{where}.from")
    if tx.get("to") is not None:
        out["to"] = params.address(tx["to"], f"{where}.to")
    data = tx.get("data") if tx.get("data") is not None else tx.get("input")
    if tx.get("data") is not None and tx.get("input") is not None and tx["data"] != tx["input"]:
        raise invalid_params(f"{where}: data and input differ")
    if data is not None:
        out["data"] = "0x" + params.data(data, f"{where}.data").hex()
    if tx.get("accessList") is not None:
        out["accessList"] = _access_list(tx["accessList"], f"{where}.accessList")
    if tx.get("authorizationList") is not None:
        out["authorizationList"] = _authorizations(tx["authorizationList"], f"{where}.authorizationList")
    if tx.get("blobVersionedHashes") is not None:
        out["blobVersionedHashes"] = _versioned_hashes(tx["blobVersionedHashes"], f"{where}.blobVersionedHashes")
    blobs = _blobs(tx["blobs"], f"{where}.blobs") if tx.get("blobs") is not None else None
    return out, blobs


def _quantities(tx: dict[str, Any], where: str) -> dict[str, Any]:
    """The numeric fields as ints; ``gasLimit`` (ethers' name) folded into ``gas``; the type one of 0-4."""
    out: dict[str, Any] = {}
    for name in QUANTITIES:
        if tx.get(name) is not None:
            out[name] = params.quantity(tx[name], f"{where}.{name}")
    if tx.get("gasLimit") is not None:
        limit = params.quantity(tx["gasLimit"], f"{where}.gasLimit")
        if "gas" in out and out["gas"] != limit:
            raise invalid_params(f"{where}: gas and gasLimit differ")
        out["gas"] = limit
    if out.get("type") is not None and out["type"] not in _TYPES:
        raise invalid_params(f"{where}.type: only transaction types 0-4 are signed")
    return out


def _versioned_hashes(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise invalid_params(f"{where} must be an array")
    return ["0x" + params.data(h, f"{where}[{i}]", 32).hex() for i, h in enumerate(value)]


def _blobs(value: Any, where: str) -> list[bytes]:
    if not isinstance(value, list) or not value:
        raise invalid_params(f"{where} must be a non-empty array")
    return [params.data(b, f"{where}[{i}]", _BLOB_SIZE) for i, b in enumerate(value)]


def _access_list(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid_params(f"{where} must be an array")
    entries = []
    for i, raw in enumerate(value):
        entry = params.obj(raw, f"{where}[{i}]")
        if set(entry) - {"address", "storageKeys"}:
            raise invalid_params(f"{where}[{i}] has fields other than address and storageKeys")
        keys = entry.get("storageKeys", [])
        if not isinstance(keys, list):
            raise invalid_params(f"{where}[{i}].storageKeys must be an array")
        entries.append(
            {
                "address": params.address(entry.get("address"), f"{where}[{i}].address"),
                "storageKeys": [
                    "0x" + params.data(k, f"{where}[{i}].storageKeys[{j}]", 32).hex() for j, k in enumerate(keys)
                ],
            }
        )
    return entries


def _authorizations(value: Any, where: str) -> list[dict[str, Any]]:
    """Pre-signed EIP-7702 authorizations (a type-4 transaction carries them; each is already signed)."""
    if not isinstance(value, list) or not value:
        raise invalid_params(f"{where} must be a non-empty array")
    out = []
    for i, raw in enumerate(value):
        item = params.obj(raw, f"{where}[{i}]")
        here = f"{where}[{i}]"
        if set(item) - {"chainId", "address", "nonce", "yParity", "v", "r", "s"}:
            raise invalid_params(f"{here} has fields other than chainId, address, nonce, yParity, r, s")
        parity = item.get("yParity", item.get("v"))
        auth = {
            "chainId": params.quantity(item.get("chainId"), f"{here}.chainId"),
            "address": params.address(item.get("address"), f"{here}.address"),
            "nonce": params.quantity(item.get("nonce"), f"{here}.nonce"),
            "yParity": params.quantity(parity, f"{here}.yParity"),
            "r": params.quantity(item.get("r"), f"{here}.r"),
            "s": params.quantity(item.get("s"), f"{here}.s"),
        }
        if auth["yParity"] not in (0, 1):
            raise invalid_params(f"{here}.yParity must be 0 or 1")
        out.append(auth)
    return out


def tx_type(fields: dict[str, Any]) -> int:
    """The type the fields make, as eth-account infers it when ``type`` is absent."""
    if "type" in fields:
        return int(fields["type"])
    if "authorizationList" in fields:
        return 4
    if "blobVersionedHashes" in fields or "maxFeePerBlobGas" in fields:
        return 3
    if "maxFeePerGas" in fields or "maxPriorityFeePerGas" in fields:
        return 2
    if "accessList" in fields:
        return 1
    return 2 if "gasPrice" not in fields else 0


async def fill_from_node(fields: dict[str, Any], sender: str, node: Upstream | None) -> list[str]:
    """Fill nonce, gas and fees from the node when absent; return the names filled. Without a node, name
    what is missing (-32602): the service never signs a default gas price or gas limit."""
    kind = tx_type(fields)
    fee_fields = ["gasPrice"] if kind in (0, 1) else ["maxFeePerGas", "maxPriorityFeePerGas"]
    if kind == 3:
        fee_fields.append("maxFeePerBlobGas")
    wanted = [name for name in ["nonce", "gas", *fee_fields] if name not in fields]
    if not wanted:
        return []
    if node is None:
        raise invalid_params(f"the transaction lacks {', '.join(wanted)} and no node is configured to fill them")
    if "type" not in fields:
        fields["type"] = kind
    if "nonce" in wanted:
        fields["nonce"] = int(await node.call("eth_getTransactionCount", [sender, "pending"]), 16)
    if "gasPrice" in wanted:
        fields["gasPrice"] = int(await node.call("eth_gasPrice", []), 16)
    if "maxFeePerGas" in wanted or "maxPriorityFeePerGas" in wanted:
        tip = fields.get("maxPriorityFeePerGas")
        if tip is None:
            tip = int(await node.call("eth_maxPriorityFeePerGas", []), 16)
            fields["maxPriorityFeePerGas"] = tip
        if "maxFeePerGas" in wanted:
            block = await node.call("eth_getBlockByNumber", ["latest", False])
            base = int(block.get("baseFeePerGas", "0x0"), 16) if isinstance(block, dict) else 0
            fields["maxFeePerGas"] = 2 * base + tip
    if "maxFeePerBlobGas" in wanted:
        fields["maxFeePerBlobGas"] = 2 * int(await node.call("eth_blobBaseFee", []), 16)
    if "gas" in wanted:
        estimate = {k: _hex(v) for k, v in fields.items() if k in ("to", "value", "data", "nonce")}
        estimate["from"] = sender
        if "accessList" in fields:
            estimate["accessList"] = fields["accessList"]
        if "authorizationList" in fields:
            estimate["authorizationList"] = [{k: _hex(v) for k, v in a.items()} for a in fields["authorizationList"]]
        fields["gas"] = int(await node.call("eth_estimateGas", [estimate]), 16)
    return wanted


def _hex(value: Any) -> Any:
    return hex(value) if isinstance(value, int) else value
