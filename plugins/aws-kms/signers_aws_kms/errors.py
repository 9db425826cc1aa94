"""AWS KMS and botocore failures, classified (retry or not) and turned into the signers errors that say what
to do. The retry loop itself is the core's (``signers.retry``); ``connection.KmsConnection`` runs it."""

from __future__ import annotations

from typing import Any

import botocore.exceptions as bx
from botocore.parsers import ResponseParserError

from signers.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    KeyDisabledError,
    KeyNotFoundError,
    KeyUsageError,
    SignerError,
    ThrottledError,
)

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)
TRANSIENT_CODES = frozenset(
    {"KMSInternalException", "DependencyTimeoutException", "InternalFailure", "ServiceUnavailable"}
)
AUTH_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignature",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "MissingAuthenticationToken",
    }
)
CREDENTIAL_ERRORS = (
    bx.NoCredentialsError,
    bx.PartialCredentialsError,
    bx.CredentialRetrievalError,
    bx.TokenRetrievalError,
    bx.SSOError,
    bx.NoAuthTokenError,
)
CONNECTION_ERRORS = (bx.ConnectionError, bx.HTTPClientError, ResponseParserError)
CREDENTIALS_HINT = (
    "boto3 found no usable credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (LocalStack accepts any, "
    "e.g. test/test), AWS_PROFILE or profile=, or run where a role is attached; credentials never go in the URI"
)
#: the first pause's ceiling (seconds): throttling backs off from a longer one
PAUSE = 0.05
THROTTLED_PAUSE = 0.1


class IncompleteAnswer(Exception):
    """A 2xx answer without the member the operation must return; retried like a server error."""

    def __init__(self, member: str, response: dict[str, Any]) -> None:
        super().__init__(member)
        self.member = member
        self.status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class AlreadyExistsError(ConfigurationError):
    """KMS refused to create something (an alias) whose name is taken."""


def classify(exc: Exception) -> tuple[bool, str | None]:
    """(retryable, reason); reason None means "not a KMS/transport error"."""
    if isinstance(exc, bx.ClientError):
        code = _code(exc)
        if code in THROTTLING_CODES:
            return True, "throttled"
        if code in TRANSIENT_CODES or _status(exc) >= 500:
            return True, "server"
        return False, "client"
    if isinstance(exc, IncompleteAnswer):
        return True, "server"
    if isinstance(exc, CONNECTION_ERRORS):
        return True, "connection"
    if isinstance(exc, bx.BotoCoreError):
        return False, "local"
    return False, None


def retry_pause(exc: Exception, *, idempotent: bool) -> float | None:
    """The retry classifier: a pause ceiling for a transient failure, None for one not to retry. A call that
    must not happen twice (CreateKey) is retried only when KMS certainly did not act on it."""
    retryable, reason = classify(exc)
    if not retryable or (not idempotent and not _not_applied(exc, reason)):
        return None
    return THROTTLED_PAUSE if reason == "throttled" else PAUSE


def failed(
    exc: Exception, subject: str, operation: str, *, region: str, endpoint: str, idempotent: bool
) -> SignerError | None:
    """The signers error for a failure that was not retried; None for an exception that is not KMS's."""
    retryable, reason = classify(exc)
    if reason is None:
        return None
    if retryable and not idempotent:
        return BackendUnavailableError(
            f"{subject}: KMS {operation} failed and was not retried (not idempotent; KMS may have done it "
            f"although the answer was lost): {describe(exc)}",
            hint=f"check first (signers aws-kms list --endpoint-url {endpoint}, or aws kms list-keys) before "
            "trying again, and schedule any unwanted key for deletion",
        )
    return refused(exc, subject, operation, region)


def exhausted(exc: Exception, subject: str, operation: str, attempts: int, endpoint: str) -> SignerError:
    tries = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
    if isinstance(exc, bx.ClientError) and _code(exc) in THROTTLING_CODES:
        return ThrottledError(f"{subject}: KMS throttled {operation} {tries} ({_code(exc)}); nothing was signed")
    if isinstance(exc, (bx.ClientError, IncompleteAnswer)):
        return BackendUnavailableError(
            f"{subject}: KMS failed {operation} {tries}: {describe(exc)}",
            hint="the KMS service failed (an internal error or an answer without its result); nothing was signed, "
            "try again later",
        )
    return BackendUnavailableError(
        f"{subject}: cannot reach KMS at {endpoint} for {operation} {tries}: {describe(exc)}",
        hint="check the endpoint, network and proxy (and connect-timeout/read-timeout); nothing was signed",
    )


def refused(exc: Exception, subject: str, operation: str, region: str) -> SignerError:
    """A failure KMS or botocore will not change by asking again."""
    if isinstance(exc, CREDENTIAL_ERRORS):
        return AuthenticationError(
            f"{subject}: no AWS credentials for {operation} ({type(exc).__name__})", hint=CREDENTIALS_HINT
        )
    if isinstance(exc, bx.ParamValidationError):
        return ConfigurationError(
            f"{subject}: invalid {operation} request: {exc}",
            hint="check the key identifier and options (see `signers aws-kms --help`)",
        )
    if not isinstance(exc, bx.ClientError):
        return ConfigurationError(
            f"{subject}: {operation} failed: {type(exc).__name__}: {exc}",
            hint="check the boto3 configuration (region, profile, endpoint-url) and the AWS environment variables",
        )
    code, message = _code(exc), _message(exc)
    text = f"{subject}: {message or code}"
    if code == "NotFoundException":
        return KeyNotFoundError(
            text, hint=f"check the key id or alias, the region ({region}) and the account of the credentials"
        )
    if code == "DisabledException":
        return KeyDisabledError(text, hint="enable the key (aws kms enable-key) or point the URI at an enabled key")
    if code == "KMSInvalidStateException":
        return KeyDisabledError(text, hint=state_hint(message))
    if code == "InvalidKeyUsageException":
        return KeyUsageError(text)
    if code in AUTH_CODES:
        return AuthenticationError(
            f"{subject}: KMS refused the credentials for {operation} ({code})",
            hint="check the credentials and that the key policy / IAM allow kms:" + _action(operation),
        )
    if code == "AlreadyExistsException":
        return AlreadyExistsError(
            text, hint="choose another name, or move the existing one (aws kms update-alias) if that is intended"
        )
    if code == "LimitExceededException":
        return SignerError(
            f"{subject}: KMS {operation} failed: {code}: {message}",
            hint="a KMS quota of the account was reached: delete unused keys/aliases or ask AWS for a higher quota",
        )
    return SignerError(
        f"{subject}: KMS {operation} failed: {code}: {message}",
        hint=f"KMS refused the request as sent: look up {code} for kms:{_action(operation)} in the AWS KMS API "
        "reference; nothing was signed",
    )


def state_hint(message: str) -> str:
    if "pending deletion" in message.lower() or "PendingDeletion" in message:
        return "the key is scheduled for deletion: cancel it (aws kms cancel-key-deletion) and enable the key"
    if "import" in message.lower():
        return "the key has no key material yet: import it (signers aws-kms import) or use another key"
    return "the key is not usable in its current state: check `signers custody` and enable it"


def describe(exc: Exception) -> str:
    if isinstance(exc, bx.ClientError):
        return f"{_code(exc)} (HTTP {_status(exc)})"
    if isinstance(exc, IncompleteAnswer):
        return f"an answer without {exc.member} (HTTP {exc.status})"
    return type(exc).__name__


def _code(exc: bx.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or _status(exc))


def _message(exc: bx.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _status(exc: bx.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _not_applied(exc: Exception, reason: str | None) -> bool:
    """True when KMS certainly did not act on the request: it refused it for rate, or it never received it."""
    return reason == "throttled" or isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError))


def _action(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))
