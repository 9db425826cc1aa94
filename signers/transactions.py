"""Transactions and EIP-7702 authorisations: every field checked (signers.fields), then serialised by
eth-account's own helpers so that our bytes are eth-account's bytes.

eth-account has no public API for signing a transaction with an external key; these are the helpers its own
LocalAccount uses. They are confined to this file so that an eth-account upgrade touches one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import rlp
from eth_abi.exceptions import EncodingError
from eth_account._utils.legacy_transactions import (
    Transaction,
    encode_transaction,
    serializable_unsigned_transaction_from_dict,
)
from eth_account._utils.signing import to_eth_v
from eth_account._utils.transaction_utils import json_serialize_classes_in_transaction
from eth_account.datastructures import SignedTransaction
from eth_account.typed_transactions import TypedTransaction
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from eth_utils.exceptions import ValidationError
from hexbytes import HexBytes

from . import fields
from .errors import ChainIdMismatchError, ConfigurationError, FieldError
from .fields import quantity
from .signature import Signature

__all__ = ["check_authorization", "prepare_transaction", "quantity"]

#: every field eth-account serialises, with the check each value gets (to, data and the lists below)
_QUANTITIES: dict[str, Callable[[Any, str], int]] = {
    "chainId": fields.chain_id,
    "nonce": fields.nonce,
    "gas": quantity,
    "gasPrice": quantity,
    "maxFeePerGas": quantity,
    "maxPriorityFeePerGas": quantity,
    "maxFeePerBlobGas": quantity,
    "value": quantity,
    "type": lambda value, name: quantity(value, name, limit=5),  # 0 legacy .. 4 EIP-7702
}
_OTHER_FIELDS = {"to", "data", "accessList", "blobVersionedHashes", "authorizationList"}
_AUTHORIZATION_FIELDS = ("chainId", "address", "nonce")
_SIGNED_AUTHORIZATION_FIELDS = ("chainId", "address", "nonce", "yParity", "r", "s")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: what eth-account, rlp and eth-abi raise for a structure they cannot serialise (checked fields aside)
_SERIALISATION_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    IndexError,
    rlp.RLPException,
    EncodingError,
    ValidationError,
)


def prepare_transaction(
    tx: Mapping[str, Any], address: str, blobs: Sequence[bytes] | None = None
) -> tuple[bytes, Callable[[Signature], SignedTransaction], dict[str, Any]]:
    """The digest to sign, a function that turns the signature into eth-account's SignedTransaction, and the
    request's context (chain id, and the delegations of an EIP-7702 transaction). A ``from`` field is allowed,
    as in eth-account, only if it is the signer's own address."""
    checked, context = _check_transaction(tx, address)
    try:
        unsigned = serializable_unsigned_transaction_from_dict(checked, blobs=list(blobs) if blobs else None)
        digest = bytes(unsigned.hash())  # some inconsistencies (a field of another type) surface only here
    except _SERIALISATION_ERRORS as exc:
        raise FieldError(
            f"cannot serialise the transaction: {type(exc).__name__}: {exc}",
            hint="give the fields of one transaction type (legacy, 2930, 1559, 4844 with blobs, 7702) as web3.py does",
        ) from None

    def finish(sig: Signature) -> SignedTransaction:
        if isinstance(unsigned, TypedTransaction):
            v = sig.y_parity
        elif isinstance(unsigned, Transaction):  # legacy with EIP-155 chain id in v
            v = to_eth_v(sig.y_parity, unsigned.v)
        else:  # what the preparation above built is one of the two; anything else is refused, not encoded
            raise FieldError(f"cannot encode a {type(unsigned).__name__} transaction")
        raw = encode_transaction(unsigned, vrs=(v, sig.r, sig.s))
        return SignedTransaction(raw_transaction=HexBytes(raw), hash=HexBytes(keccak(raw)), r=sig.r, s=sig.s, v=v)

    return digest, finish, context


def _check_transaction(tx: Mapping[str, Any], address: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The transaction with its numbers as ints, every field in range, and its context."""
    if not isinstance(tx, Mapping):
        raise FieldError(
            f"a transaction must be a mapping of fields, not a {type(tx).__name__}", hint="give a dict, as web3.py does"
        )
    checked = dict(tx)
    if "from" in checked:
        sender = checked.pop("from")
        if not isinstance(sender, str) or sender.lower() != address.lower():
            raise ConfigurationError(
                "the transaction's from is not this signer's address", hint=f"this signer is {address}"
            )
    unknown = set(checked) - set(_QUANTITIES) - _OTHER_FIELDS
    if unknown:
        names = sorted(name for name in unknown if isinstance(name, str) and _NAME.match(name))
        raise FieldError(
            f"the transaction has {len(unknown)} unknown field(s) {', '.join(names)}".rstrip(),
            hint="fields as web3.py names them: " + ", ".join(sorted([*_QUANTITIES, *_OTHER_FIELDS])),
        )
    if checked.get("chainId") is None:
        raise ChainIdMismatchError(
            "the transaction has no chainId, so its signature would be valid on every chain",
            hint="add chainId (EIP-155); signers does not sign replayable transactions",
        )
    for name, check in _QUANTITIES.items():
        if name in checked:
            checked[name] = check(checked[name], f"transaction.{name}")
    if checked.get("to") not in (None, "", b""):
        fields.address(checked["to"], "transaction.to")
    if "data" in checked:
        fields.data(checked["data"], "transaction.data")
    for i, entry in enumerate(fields.sequence(checked.get("accessList", []), "transaction.accessList")):
        where = f"transaction.accessList[{i}]"
        if not isinstance(entry, Mapping) or set(entry) != {"address", "storageKeys"}:
            raise FieldError(f"{where} is not {{address, storageKeys}}", hint="as in eth_createAccessList's answer")
        fields.address(entry["address"], f"{where}.address")
        for j, key in enumerate(fields.sequence(entry["storageKeys"], f"{where}.storageKeys")):
            fields.data(key, f"{where}.storageKeys[{j}]", size=32)
    for i, versioned in enumerate(
        fields.sequence(checked.get("blobVersionedHashes", []), "transaction.blobVersionedHashes")
    ):
        fields.data(versioned, f"transaction.blobVersionedHashes[{i}]", size=32)
    context: dict[str, Any] = {"chain_id": checked["chainId"]}
    if "authorizationList" in checked:
        items = fields.sequence(checked["authorizationList"], "transaction.authorizationList")
        context["authorizations"] = [_signed_authorization(item, i) for i, item in enumerate(items)]
    return checked, context


def _signed_authorization(item: Any, i: int) -> dict[str, Any]:
    """An EIP-7702 authorisation inside a type-4 transaction (already signed by its authority: no key is used
    here), checked, and what the request's context says of it."""
    where = f"transaction.authorizationList[{i}]"
    item = json_serialize_classes_in_transaction(item)  # eth-account's SignedSetCodeAuthorization -> its fields
    chain, delegate, nonce = _authorization_fields(item, where, _SIGNED_AUTHORIZATION_FIELDS)
    quantity(item["yParity"], f"{where}.yParity", limit=2)
    quantity(item["r"], f"{where}.r", minimum=1)
    quantity(item["s"], f"{where}.s", minimum=1)
    return {"chain_id": chain, "address": to_checksum_address(delegate), "nonce": nonce}


def check_authorization(authorization: Any) -> tuple[int, bytes, int]:
    """(chain id, delegate address, nonce) of an EIP-7702 authorisation to sign; chain id 0 passes here
    (the signer's policy decides whether it may be signed)."""
    return _authorization_fields(authorization, "authorization", _AUTHORIZATION_FIELDS)


def _authorization_fields(item: Any, where: str, names: tuple[str, ...]) -> tuple[int, bytes, int]:
    if not isinstance(item, Mapping):
        raise FieldError(f"{where} must be a mapping, not a {type(item).__name__}", hint=f"give {', '.join(names)}")
    missing = [name for name in names if name not in item]
    if missing or len(item) != len(names):
        raise FieldError(
            f"{where} must have exactly the fields {', '.join(names)}", hint=f"missing: {', '.join(missing) or 'none'}"
        )
    chain = fields.chain_id(item["chainId"], f"{where}.chainId", allow_zero=True)
    return chain, fields.address(item["address"], f"{where}.address"), fields.nonce(item["nonce"], f"{where}.nonce")
