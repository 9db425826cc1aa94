"""PKCS#11 failures (python-pkcs11's exceptions) as the signers errors that say what was wrong and what to do.
A PIN is never named, only where it comes from; recovery from a lost session is ``module``'s."""

from __future__ import annotations

from pkcs11 import exceptions as p11x

from signers.errors import (
    AuthenticationError,
    BackendUnavailableError,
    InvalidDigestError,
    KeyNotFoundError,
    KeyUsageError,
    SignerError,
    UnsuitableKeyError,
)


class TokenNotFoundError(KeyNotFoundError):
    """No token of the module matches the URI."""


def login_error(exc: Exception, token: str, pin_source: str | None) -> SignerError:
    """The SignerError for a refused login, naming the PIN's source, never the PIN."""
    source = pin_source or "no pin-source"
    if isinstance(exc, (p11x.PinIncorrect, p11x.PinInvalid, p11x.PinLenRange)):
        return AuthenticationError(
            f"pkcs11 token {token!r}: the PIN from {source} was refused (wrong PIN)",
            hint=f"put the token's user PIN in {source}; the PIN itself is never shown",
        )
    if isinstance(exc, p11x.PinLocked):
        return AuthenticationError(
            f"pkcs11 token {token!r}: the user PIN is locked after too many wrong attempts",
            hint="have the security officer unblock the user PIN (e.g. softhsm2-util / pkcs11-tool --init-pin)",
        )
    if isinstance(exc, p11x.PinExpired):
        return AuthenticationError(f"pkcs11 token {token!r}: the user PIN has expired", hint="set a new user PIN")
    if isinstance(exc, p11x.UserPinNotInitialized):
        return AuthenticationError(
            f"pkcs11 token {token!r}: the token has no user PIN yet", hint="initialise the user PIN (C_InitPIN)"
        )
    return BackendUnavailableError(
        f"pkcs11 token {token!r}: login failed ({type(exc).__name__})",
        hint="check the token is present and initialised (softhsm2-util --show-slots / pkcs11-tool -L)",
    )


def token_error(exc: p11x.PKCS11Error, what: str, where: str, key: str) -> SignerError:
    """The SignerError for a call the token refused (``what`` it was doing, ``where``, which ``key``)."""
    name = type(exc).__name__
    if isinstance(exc, p11x.MechanismInvalid):
        return UnsuitableKeyError(
            f"pkcs11: {where} does not support CKM_ECDSA", hint="use a token that signs raw ECDSA"
        )
    if isinstance(exc, p11x.KeyTypeInconsistent) or "0x68" in str(exc):  # CKR_KEY_FUNCTION_NOT_PERMITTED
        return KeyUsageError(f"pkcs11: {where} refused to sign with {key} ({name})")
    if isinstance(exc, (p11x.DataLenRange, p11x.DataInvalid)):
        return InvalidDigestError(f"pkcs11: the token refused the digest ({name})")
    return BackendUnavailableError(f"pkcs11: {what} on {where} failed ({name}: {exc})")
