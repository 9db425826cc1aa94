"""Moved to the core (``signers.hexutil``): the UserOperation type needs them. Kept importable from here."""

from ..hexutil import BytesLike, parse_quantity, quantity, to_address, to_bytes, to_hex, uint

__all__ = ["BytesLike", "parse_quantity", "quantity", "to_address", "to_bytes", "to_hex", "uint"]
