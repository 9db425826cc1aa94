"""The digests Ethereum signs: EIP-191 messages, EIP-712 typed data, EIP-7702 authorisations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import fields
from .errors import ConfigurationError, FieldError
from .keccak import keccak

if TYPE_CHECKING:
    from eth_account.messages import SignableMessage

# eth-account, eth-abi and rlp are imported by the functions that use them: a digest or a UserOperation
# needs none of them, and eth-account's import alone costs ~0.4 s.


def as_signable(message: SignableMessage | bytes | str) -> SignableMessage:
    """bytes are signed as bytes, str as UTF-8 text, a SignableMessage as is (any EIP-191 version)."""
    from eth_account.messages import SignableMessage

    if isinstance(message, SignableMessage):
        return message
    if isinstance(message, (bytes, bytearray)):
        body = bytes(message)
    elif isinstance(message, str):
        body = message.encode("utf-8")
    else:
        raise ConfigurationError(f"cannot sign a {type(message).__name__}: pass bytes, str or a SignableMessage")
    # eth-account's encode_defunct(primitive=) / (text=), built directly: its argument-validating decorators
    # cost more than the rest of a local key's signature (tests/core/test_hot_path.py compares the two)
    return SignableMessage(b"E", b"thereum Signed Message:\n" + str(len(body)).encode(), body)


def eip191_hash(message: SignableMessage) -> bytes:
    if len(message.version) != 1:
        raise ConfigurationError("EIP-191 version must be a single byte")
    return keccak(b"\x19" + message.version + message.header + message.body)


def personal_sign_hash(data: bytes) -> bytes:
    """keccak256("\\x19Ethereum Signed Message:\\n" + len + data): what ERC-4337 accounts check."""
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def typed_data_message(
    domain_data: dict[str, Any] | None = None,
    message_types: dict[str, Any] | None = None,
    message_data: dict[str, Any] | None = None,
    full_message: dict[str, Any] | None = None,
) -> SignableMessage:
    """EIP-712, with exactly the arguments eth-account's sign_typed_data accepts. eth-abi checks each value
    against its declared type (uint256 below 2**256, int8 in [-128, 127], address of 20 bytes...) while it
    encodes, before anything is signed; what it raises (ValueOutOfBounds, EncodingTypeError) becomes a
    FieldError like any other malformed field."""
    from eth_abi.exceptions import EncodingError
    from eth_account.messages import encode_typed_data
    from eth_utils.exceptions import ValidationError

    try:
        return encode_typed_data(domain_data, message_types, message_data, full_message)
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        EncodingError,
        ValidationError,
        RecursionError,
    ) as exc:
        raise FieldError(
            f"cannot encode the EIP-712 data: {type(exc).__name__}: {exc}",
            hint="give domain, types, primaryType and message as EIP-712 defines them",
        ) from None


def authorization_hash(chain_id: int, address: str | bytes, nonce: int) -> bytes:
    """EIP-7702: keccak256(0x05 || rlp([chain_id, address, nonce])), its fields checked as for signing."""
    import rlp

    chain = fields.chain_id(chain_id, "chainId", allow_zero=True)
    return keccak(b"\x05" + rlp.encode([chain, fields.address(address), fields.nonce(nonce)]))
