"""signers: Ethereum signing with keys that never leave an HSM or a cloud KMS."""

from typing import TYPE_CHECKING

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
from .keys import PublicKey
from .lazy import lazy_exports
from .secrets import Secret, read_secret
from .signature import Signature
from .uri import SignerURI

if TYPE_CHECKING:
    from .hookspecs import SignRequest, hookimpl
    from .plugins import backends, get_plugin_manager, load_signer
    from .signer import Signer

# The signer, the plugin manager and pluggy are imported on first use (PEP 562): a script that only parses a
# signature or a key pays for neither, and `import signers` stays light (no eth-account, no cloud SDK).
__getattr__ = lazy_exports(
    __name__,
    {
        "SignRequest": ".hookspecs",
        "hookimpl": ".hookspecs",
        "backends": ".plugins",
        "get_plugin_manager": ".plugins",
        "load_signer": ".plugins",
        "Signer": ".signer",
    },
)


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
