"""Transaction serialisation, borrowed from eth-account so that our bytes are eth-account's bytes.

eth-account has no public API for signing a transaction with an external key; these are the helpers its own
LocalAccount uses. They are confined to this file so that an eth-account upgrade touches one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eth_account._utils.legacy_transactions import (
    Transaction,
    encode_transaction,
    serializable_unsigned_transaction_from_dict,
)
from eth_account._utils.signing import to_eth_v
from eth_account.datastructures import SignedTransaction
from eth_account.typed_transactions import TypedTransaction
from eth_hash.auto import keccak
from hexbytes import HexBytes

from .errors import ChainIdMismatchError, ConfigurationError
from .signature import Signature


def quantity(value: Any) -> int:
    """An integer field as eth-account and web3.py pass it: int or 0x-hex string."""
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            raise ConfigurationError(f"not a number: {value!r}") from None
    return int(value)


def prepare_transaction(
    tx: Mapping[str, Any], address: str, chain_id: int | None, blobs: Sequence[bytes] | None = None
) -> tuple[bytes, Callable[[Signature], SignedTransaction]]:
    """The digest to sign and a function that turns the signature into eth-account's SignedTransaction.
    A ``from`` field is allowed, as in eth-account, only if it is the signer's own address."""
    if not isinstance(tx, Mapping):
        raise ConfigurationError(f"a transaction must be a mapping of fields, not a {type(tx).__name__}")
    if "from" in tx:
        sender = tx["from"]
        if not isinstance(sender, str) or sender.lower() != address.lower():
            raise ConfigurationError(f"the transaction is from {sender}, but this signer is {address}")
        tx = {k: v for k, v in tx.items() if k != "from"}
    tx_chain = tx.get("chainId")
    if tx_chain is None:
        raise ChainIdMismatchError(
            "the transaction has no chainId, so its signature would be valid on every chain",
            hint="add chainId (EIP-155); signers does not sign replayable transactions",
        )
    if chain_id is not None and quantity(tx_chain) != chain_id:
        raise ChainIdMismatchError(f"the transaction is for chain {tx_chain}, the signer for chain {chain_id}")
    try:
        unsigned = serializable_unsigned_transaction_from_dict(dict(tx), blobs=list(blobs) if blobs else None)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ConfigurationError(f"cannot serialise the transaction: {exc}") from None

    def finish(sig: Signature) -> SignedTransaction:
        if isinstance(unsigned, TypedTransaction):
            v = sig.y_parity
        else:
            assert isinstance(unsigned, Transaction)  # legacy with EIP-155 chain id in v
            v = to_eth_v(sig.y_parity, unsigned.v)
        raw = encode_transaction(unsigned, vrs=(v, sig.r, sig.s))
        return SignedTransaction(raw_transaction=HexBytes(raw), hash=HexBytes(keccak(raw)), r=sig.r, s=sig.s, v=v)

    return bytes(unsigned.hash()), finish
