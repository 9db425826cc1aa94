"""Moved to the core (``signers.user_operation``), like transactions; ``signers.aa`` builds on it."""

from ..user_operation import PackedUserOperation, UserOperation, user_operation_hash

__all__ = ["PackedUserOperation", "UserOperation", "user_operation_hash"]
