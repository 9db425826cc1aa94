"""Every error the library raises, in one place.

Each error says what was wrong and, where there is one, what to do about it (``hint``). None of them ever
carries a secret: backends build messages from key identifiers and addresses only.
"""

from __future__ import annotations


class SignerError(Exception):
    """Base class of every error raised by signers."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        if hint is not None:
            self.hint = hint
        super().__init__(f"{message} ({self.hint})" if self.hint else message)


class ConfigurationError(SignerError):
    """A signer URI or option is malformed or names something that cannot work."""


class FieldError(ConfigurationError):
    """A transaction, authorisation or typed-data field is missing, malformed or outside what the protocol
    allows; nothing was serialised or signed."""

    hint = "fix the field the message names; nothing was serialised or signed"


class UnknownSchemeError(ConfigurationError):
    hint = "run `signers backends` to list installed schemes; install the plugin that provides it"


class SecretSourceError(ConfigurationError):
    """A PIN or password source (env:NAME, file:PATH) cannot be read."""


class BackendUnavailableError(SignerError):
    """The custody service or device cannot be reached, or stopped answering."""

    hint = "check that the service is running and reachable; the request was not signed"


class ThrottledError(BackendUnavailableError):
    """The service kept refusing for rate reasons after the bounded retries."""

    hint = "lower the request rate (see the rate-limit option) or raise the service quota"


class AuthenticationError(SignerError):
    """Credentials, PIN or password were refused or are missing."""


class KeyNotFoundError(SignerError):
    """No key matches the identifier."""


class AmbiguousKeyError(SignerError):
    """More than one key matches the identifier."""

    hint = "make the URI more specific (add id= or a unique object label)"


class UnsuitableKeyError(SignerError):
    """The key exists but cannot produce Ethereum signatures."""


class WrongCurveError(UnsuitableKeyError):
    hint = "Ethereum needs a secp256k1 key (ECC_SECG_P256K1 / EC_SIGN_SECP256K1_SHA256 / OID 1.3.132.0.10)"


class KeyUsageError(UnsuitableKeyError):
    hint = "create the key for signing (SIGN_VERIFY / CKA_SIGN=true)"


class KeyDisabledError(UnsuitableKeyError):
    hint = "enable the key (or its version) or point the URI at an enabled one"


class InvalidDigestError(SignerError):
    """What was passed as a digest is not 32 bytes."""

    hint = "pass the 32-byte Keccak-256 digest; hash longer messages first"


class MalformedSignatureError(SignerError):
    """The backend returned bytes that are not a well-formed secp256k1 ECDSA signature."""

    hint = "expected a strict DER ECDSA-Sig-Value or a 64-byte r||s with 0 < r, s < n; nothing was released"


class SignatureVerificationError(SignerError):
    """A signature did not verify against the key's address: it is never returned."""

    hint = "the backend produced an invalid signature or signed with another key; nothing was released"

    def __init__(self, message: str, *, expected: str | None = None, hint: str | None = None) -> None:
        self.expected = expected
        super().__init__(message, hint=hint)


class KeyChangedError(SignatureVerificationError):
    """The key behind an identifier (an alias) changed since the signer was configured."""

    def __init__(self, message: str, *, expected: str, actual: str, hint: str | None = None) -> None:
        self.actual = actual
        super().__init__(message, expected=expected, hint=hint)


class IntegrityError(SignerError):
    """A response failed an integrity check (CRC32C, key name) after the bounded retries."""


class PolicyViolationError(SignerError):
    """A before_sign policy refused the request; no key was used."""


class ChainIdMismatchError(PolicyViolationError):
    hint = "sign with a signer configured for the transaction's chain, or fix the transaction's chainId"


class AuditTrailError(SignerError):
    """The audit trail cannot be opened or written: the request was not signed, or its signature was
    discarded before it reached the caller (record before release)."""

    hint = "check the audit database (server up, disk space, file permissions); nothing was released"


class AuditSchemaError(AuditTrailError):
    """The audit database was made by a newer version of signers than this one."""

    hint = "upgrade signers on this host (every writer of a shared trail needs the same or a newer version)"


class UnsupportedOperationError(SignerError):
    """The operation exists in eth-account but makes no sense for a key in custody."""


class AAError(SignerError):
    """Base class of the ERC-4337 client errors (signers.aa.errors holds the rest; these two live here because
    the UserOperation type is core)."""


class AAConfigurationError(AAError, ConfigurationError):
    """An argument of the AA layer is malformed (an address, a selector, a rule reference...)."""
