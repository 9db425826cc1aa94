"""JSON-RPC errors: the codes ethers, viem and web3.py recognise, and how library errors map onto them.

A policy refusal is code 4001 with a message starting "User denied:" (viem matches the code, ethers the
message); an address the caller may not use -32000; bad params -32602. Messages come from the library's
errors, which never carry a secret, or from this package's checks, which name the position, not the value.
"""

from __future__ import annotations

from typing import Any

from signers.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidDigestError,
    PolicyViolationError,
    SignerError,
)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
UNAUTHORIZED_ADDRESS = -32000
LIMIT_EXCEEDED = -32005
USER_REJECTED = 4001
UNAUTHORIZED = -32001  # no or a wrong credential (with HTTP 401)


class RpcError(Exception):
    """An error answer. ``policy`` labels policy refusals in the metrics."""

    def __init__(self, code: int, message: str, *, data: Any = None, policy: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.policy = policy

    def as_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"invalid params: {message}")


def denied(message: str, policy: str) -> RpcError:
    return RpcError(USER_REJECTED, f"User denied: {message}", policy=policy)


def from_signer_error(error: SignerError) -> RpcError:
    """The answer for an error the library raised while preparing or making a signature."""
    kind = type(error).__name__
    if isinstance(error, PolicyViolationError):
        return RpcError(USER_REJECTED, f"User denied: {error}", data={"reason": kind}, policy=kind)
    if isinstance(error, (ConfigurationError, InvalidDigestError)) and not isinstance(error, AuthenticationError):
        return RpcError(INVALID_PARAMS, f"invalid params: {error}", data={"reason": kind})
    if isinstance(error, BackendUnavailableError):
        return RpcError(INTERNAL_ERROR, f"the key's backend is unavailable: {error}", data={"reason": kind})
    return RpcError(INTERNAL_ERROR, f"signing failed: {error}", data={"reason": kind})
