"""eth-account / web3.py adapter: a LocalAccount whose key stays in custody.

web3.py's ``SignAndSendRawMiddlewareBuilder`` accepts only LocalAccount instances (it dispatches on the
type), so the adapter subclasses LocalAccount and replaces every method that would touch a private key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from eth_account.datastructures import SignedMessage, SignedSetCodeAuthorization, SignedTransaction
from eth_account.messages import SignableMessage
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, Hash32
from hexbytes import HexBytes

from .errors import UnsupportedOperationError
from .signer import Signer


class SignerAccount(LocalAccount):
    """Behaves as eth-account's LocalAccount for signing; has no private key to give out."""

    def __init__(self, signer: Signer) -> None:  # LocalAccount.__init__ wants a key: deliberately not called
        self.signer = signer

    def __repr__(self) -> str:
        return f"SignerAccount({self.signer!r})"

    @property
    def address(self) -> ChecksumAddress:
        return self.signer.address  # type: ignore[return-value]

    @property
    def key(self) -> NoReturn:
        raise UnsupportedOperationError(f"the key of {self.signer.address} is in custody and cannot be read")

    def __bytes__(self) -> NoReturn:
        raise UnsupportedOperationError(f"the key of {self.signer.address} is in custody and cannot be read")

    def encrypt(self, password: str, kdf: str | None = None, iterations: int | None = None) -> NoReturn:
        raise UnsupportedOperationError("a key in custody cannot be exported to a keystore")

    def unsafe_sign_hash(self, message_hash: Hash32) -> SignedMessage:
        sig = self.signer.sign_digest(bytes(message_hash))
        return SignedMessage(HexBytes(message_hash), sig.r, sig.s, sig.v, HexBytes(sig.to_bytes()))

    def sign_message(self, signable_message: SignableMessage) -> SignedMessage:
        return self.signer.sign_message(signable_message)

    def sign_transaction(self, transaction_dict: Mapping[str, Any], blobs: Any = None) -> SignedTransaction:
        return self.signer.sign_transaction(transaction_dict, blobs=blobs)

    def sign_typed_data(
        self,
        domain_data: dict[str, Any] | None = None,
        message_types: dict[str, Any] | None = None,
        message_data: dict[str, Any] | None = None,
        full_message: dict[str, Any] | None = None,
    ) -> SignedMessage:
        return self.signer.sign_typed_data(domain_data, message_types, message_data, full_message)

    def sign_authorization(self, authorization: dict[str, Any]) -> SignedSetCodeAuthorization:  # type: ignore[override]
        return self.signer.sign_authorization(authorization)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SignerAccount) and other.address == self.address

    def __hash__(self) -> int:
        return hash((type(self), self.address))


def to_account(signer: Signer) -> SignerAccount:
    return SignerAccount(signer)
