"""signers: Ethereum signing with keys that never leave an HSM or a cloud KMS."""

from .backend import Backend
from .errors import (
    AmbiguousKeyError,
    AuditSchemaError,
    AuditTrailError,
    AuthenticationError,
    BackendUnavailableError,
    ChainIdMismatchError,
    ConfigurationError,
    FieldError,
    IntegrityError,
    InvalidDigestError,
    KeyChangedError,
    KeyDisabledError,
    KeyNotFoundError,
    KeyUsageError,
    MalformedSignatureError,
    PolicyViolationError,
    SecretSourceError,
    SignatureVerificationError,
    SignerError,
    ThrottledError,
    UnknownSchemeError,
    UnsuitableKeyError,
    UnsupportedOperationError,
    WrongCurveError,
)
from .hookspecs import hookimpl
from .keys import PublicKey
from .plugins import backends, get_plugin_manager, load_signer
from .secrets import Secret, read_secret
from .signature import Signature
from .signer import Signer, SignRequest
from .uri import SignerURI

__all__ = [
    "AmbiguousKeyError",
    "AuditSchemaError",
    "AuditTrailError",
    "AuthenticationError",
    "Backend",
    "BackendUnavailableError",
    "ChainIdMismatchError",
    "ConfigurationError",
    "FieldError",
    "IntegrityError",
    "InvalidDigestError",
    "KeyChangedError",
    "KeyDisabledError",
    "KeyNotFoundError",
    "KeyUsageError",
    "MalformedSignatureError",
    "PolicyViolationError",
    "PublicKey",
    "Secret",
    "SecretSourceError",
    "SignRequest",
    "Signature",
    "SignatureVerificationError",
    "Signer",
    "SignerError",
    "SignerURI",
    "ThrottledError",
    "UnknownSchemeError",
    "UnsuitableKeyError",
    "UnsupportedOperationError",
    "WrongCurveError",
    "backends",
    "get_plugin_manager",
    "hookimpl",
    "load_signer",
    "read_secret",
]
