"""What a request looks like to the service, and the r||s the core needs from its answer.

Each kind of request is forwarded with its context, so that the service's policies judge what is signed, not
a bare digest: a personal message as ``personal_sign``, typed data as ``eth_signTypedData_v4``, a transaction
as ``eth_signTransaction``, a UserOperation as ``signers_signUserOperation`` (the scope check runs on the whole
op there), an EIP-7702 authorisation as ``signers_signAuthorization``. Only what has no structure (a digest,
an EIP-191 message of another version) goes as ``signers_signDigest``, a right the service grants per client.

Nothing the service answers is trusted: the core checks that the returned r||s recovers to this key's address
over the digest computed here, before the signature leaves the library.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import rlp
from eth_account._utils.encode_typed_data.encoding_and_hashing import get_primary_type
from eth_account.messages import SignableMessage
from eth_utils import to_checksum_address
from hexbytes import HexBytes

from signers.aa.user_operation import UserOperation
from signers.errors import ConfigurationError, IntegrityError, SignerError
from signers.signer import SignRequest
from signers.transactions import prepare_transaction, quantity

from ..txfields import QUANTITIES

# eth-account hashes the EIP-712 domain with these fields, in this order, whatever order the caller gave
DOMAIN_FIELDS = {
    "name": "string",
    "version": "string",
    "chainId": "uint256",
    "verifyingContract": "address",
    "salt": "bytes32",
}
PERSONAL_HEADER = b"thereum Signed Message:\n"


class MalformedAnswerError(IntegrityError):
    """The service's answer is not the shape its method promises."""

    hint = "the service and this client disagree on the method's result; nothing was released"


def _hex(value: Any) -> str:
    return HexBytes(value).to_0x_hex()


def _address(value: Any) -> str:
    return to_checksum_address(_hex(value))


def _q(value: Any) -> str:
    return hex(quantity(value))


def _jsonable(value: Any) -> Any:
    """Typed-data values as JSON: bytes as 0x hex, containers recursively; numbers stay exact (JSON allows any)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _hex(bytes(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def typed_data_json(typed: Mapping[str, Any]) -> str:
    """The ``eth_signTypedData_v4`` JSON string (with ``EIP712Domain`` and ``primaryType``, as ethers and viem
    send it) for eth-account's full-message form or its (domain, types, message) form."""
    domain = typed.get("domain") or {}
    unknown = [k for k in domain if k not in DOMAIN_FIELDS]
    if unknown:
        raise ConfigurationError(f"typed data: the domain has a field EIP-712 does not define ({len(unknown)} of them)")
    types = {k: v for k, v in (typed.get("types") or {}).items() if k != "EIP712Domain"}
    domain_type = [{"name": k, "type": t} for k, t in DOMAIN_FIELDS.items() if k in domain]
    return json.dumps(
        {
            "types": {"EIP712Domain": domain_type, **_jsonable(types)},
            "primaryType": typed.get("primaryType") or get_primary_type(types),
            "domain": _jsonable(domain),
            "message": _jsonable(typed.get("message")),
        }
    )


def _authorization(item: Any) -> dict[str, str]:
    """One entry of an authorizationList: eth-account's SignedSetCodeAuthorization or a dict."""
    if isinstance(item, Mapping):
        fields = {k: item[k] for k in ("chainId", "address", "nonce", "yParity", "r", "s")}
    else:
        fields = {
            "chainId": item.chain_id,
            "address": item.address,
            "nonce": item.nonce,
            "yParity": item.y_parity,
            "r": item.r,
            "s": item.s,
        }
    return {k: (_address(v) if k == "address" else _q(v)) for k, v in fields.items()}


def transaction_json(tx: Mapping[str, Any], sender: str) -> dict[str, Any]:
    """The JSON-RPC transaction object. Every field is forwarded or refused: none is silently dropped."""
    out: dict[str, Any] = {"from": sender}
    for name, value in tx.items():
        if name == "from" or value is None:
            continue  # the core checked that "from" is this key's address
        if name in QUANTITIES:
            out[name] = _q(value)
        elif name in ("data", "input"):
            out["data"] = _hex(value)
        elif name == "to":
            if value not in ("", b""):  # contract creation: no "to"
                out["to"] = _address(value)
        elif name == "accessList":
            out[name] = [
                {"address": _address(e["address"]), "storageKeys": [_hex(k) for k in e["storageKeys"]]} for e in value
            ]
        elif name == "blobVersionedHashes":
            out[name] = [_hex(h) for h in value]
        elif name == "authorizationList":
            out[name] = [_authorization(a) for a in value]
        else:
            raise ConfigurationError(
                f"transaction field {name!r} cannot be forwarded to the signing service",
                hint="remove the field; signers never drops a field it cannot send",
            )
    return out


def _refuse_unforwarded_blobs(tx: Mapping[str, Any], sender: str, digest: bytes) -> None:
    """Blobs never travel (the request does not carry them, and the hash holds only their versioned hashes).
    Given without ``blobVersionedHashes``, eth-account adds the hashes to what is signed here, so the forwarded
    transaction would hash to something else: refused before any request, not a self-check failure after."""
    try:
        same = prepare_transaction(tx, sender)[0] == digest
    except SignerError:  # a type-3 transaction without its hashes does not even serialise without the blobs
        same = False
    if not same:
        raise ConfigurationError(
            "an EIP-4844 transaction whose blobs came without blobVersionedHashes cannot be forwarded to the "
            "signing service; nothing was sent",
            hint="put the blobs' versioned hashes in the transaction's blobVersionedHashes and sign again with "
            "the blobs: the service signs the same hash and the blobs stay here",
        )


def rpc_request(request: SignRequest) -> tuple[str, list[Any]]:
    """The JSON-RPC method and params that carry ``request`` to the service."""
    address = request.signer.address
    payload, kind = request.payload, request.kind
    if kind == "message" and isinstance(payload, SignableMessage) and payload.version == b"E":
        body = bytes(payload.body)
        if bytes(payload.header) == PERSONAL_HEADER + str(len(body)).encode():
            return "personal_sign", [_hex(body), address]
    elif kind == "typed_data" and isinstance(payload, Mapping):
        return "eth_signTypedData_v4", [address, typed_data_json(payload)]
    elif kind == "transaction" and isinstance(payload, Mapping):
        _refuse_unforwarded_blobs(payload, address, request.digest)
        return "eth_signTransaction", [transaction_json(payload, address)]
    elif kind == "user_operation" and isinstance(payload, UserOperation):
        context = request.context
        return "signers_signUserOperation", [
            {
                "userOperation": payload.to_rpc(),
                "entryPoint": context["entry_point"],
                "chainId": _q(context["chain_id"]),
                "address": address,
            }
        ]
    elif kind == "authorization" and isinstance(payload, Mapping):
        authorization = {
            "chainId": _q(payload["chainId"]),
            "address": _address(payload["address"]),
            "nonce": _q(payload["nonce"]),
        }
        return "signers_signAuthorization", [authorization, address]
    elif kind not in ("digest", "message"):  # a structured request sent as a bare digest would dodge the policies
        raise ConfigurationError(
            f"a {kind} request reached the remote backend without its structure; nothing was signed",
            hint="sign it through the Signer's own method for that kind (sign_transaction, ...)",
        )
    return "signers_signDigest", [address, _hex(request.digest)]


def _int32(value: Any, what: str) -> bytes:
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            number = int(value, 16) if isinstance(value, str) else int.from_bytes(value, "big")
    except (TypeError, ValueError):
        raise MalformedAnswerError(f"the service's {what} is not a number") from None
    if not 0 <= number < 2**256:
        raise MalformedAnswerError(f"the service's {what} is out of range")
    return number.to_bytes(32, "big")


def rs_of_65(value: Any, method: str) -> bytes:
    try:
        raw = bytes(HexBytes(value))
    except (TypeError, ValueError):
        raise MalformedAnswerError(f"{method}: the service's signature is not hex") from None
    if len(raw) != 65:
        raise MalformedAnswerError(f"{method}: the service's signature has {len(raw)} bytes, not 65")
    return raw[:64]


def _raw_transaction_rs(value: Any) -> bytes:
    """r||s of a signed raw transaction (typed: 0x0N || rlp([..., yParity, r, s]); legacy: rlp([..., v, r, s]))."""
    try:
        raw = bytes(HexBytes(value))
        fields = rlp.decode(raw[1:] if raw and raw[0] < 0x80 else raw)
    except (TypeError, ValueError, rlp.DecodingError):
        raise MalformedAnswerError("eth_signTransaction: the service's answer is not a raw transaction") from None
    if not isinstance(fields, list) or len(fields) < 3:
        raise MalformedAnswerError("eth_signTransaction: the service's answer is not a signed transaction")
    return _int32(fields[-2], "r") + _int32(fields[-1], "s")


def signature_rs(request: SignRequest, method: str, result: Any) -> bytes:
    """The 64-byte r||s in the service's answer to ``method``. The core verifies it before it is used."""
    try:
        if method == "eth_signTransaction":
            return _raw_transaction_rs(result)
        if method == "signers_signUserOperation":
            answered = bytes(HexBytes(result["userOpHash"]))
            if answered != request.context["user_op_hash"]:
                raise MalformedAnswerError(
                    "signers_signUserOperation: the service hashed another UserOperation than this one",
                    hint="the service and this client disagree on the op's fields; nothing was released",
                )
            return rs_of_65(result["ecdsa"], method)
        if method == "signers_signAuthorization":
            return _int32(result["r"], "r") + _int32(result["s"], "s")
        return rs_of_65(result, method)
    except SignerError:
        raise
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswerError(f"{method}: the service's answer lacks the fields it promises") from None
