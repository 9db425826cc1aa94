"""Cloud KMS's errors, as the signers errors that say what was wrong and what to do."""

from __future__ import annotations

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exceptions

from signers.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    KeyDisabledError,
    KeyNotFoundError,
    SignerError,
    ThrottledError,
)
from signers.retry import RetriesExhausted

#: the failures the bounded retries ask again after (``connection``): the others are answers
RETRYABLE = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.ResourceExhausted)

# (what Cloud KMS or google-auth raised, the signers error, its message after "<where>: ", its hint or None for
# the class's own), first match wins: the catch-all GoogleAPICallError comes last
_MAPPING: tuple[tuple[type[Exception] | tuple[type[Exception], ...], type[SignerError], str, str | None], ...] = (
    (gexc.ResourceExhausted, ThrottledError, "Cloud KMS refused for quota reasons: {message}", None),
    (
        (gexc.ServiceUnavailable, gexc.DeadlineExceeded),
        BackendUnavailableError,
        "Cloud KMS is unreachable: {message}",
        None,
    ),
    (
        gexc.NotFound,
        KeyNotFoundError,
        "no such key: {message}",
        "check project, location, key ring, key and version (`signers gcp-kms list`)",
    ),
    (gexc.FailedPrecondition, KeyDisabledError, "the key version cannot be used: {message}", None),
    (
        (gexc.PermissionDenied, gexc.Unauthenticated),
        AuthenticationError,
        "Cloud KMS refused the credentials: {message}",
        "grant roles/cloudkms.signerVerifier (and viewer) on the key to the ADC identity",
    ),
    (
        auth_exceptions.DefaultCredentialsError,
        AuthenticationError,
        "no Application Default Credentials",
        "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS",
    ),
    (
        gexc.InvalidArgument,
        ConfigurationError,
        "Cloud KMS refused the request: {message}",
        "check the key version name (projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N)",
    ),
    (
        gexc.GoogleAPICallError,
        BackendUnavailableError,
        "Cloud KMS call failed: {message}",
        "check the service status and the endpoint; nothing was signed, try again later",
    ),
)


def _message(error: BaseException) -> str:
    # GoogleAPICallError.message is the server's text without the code prefix
    return str(getattr(error, "message", "") or error)


def translate(error: Exception, where: str) -> SignerError:
    """The signers error for an exception raised by a google-cloud-kms call about ``where``."""
    if isinstance(error, SignerError):
        return error
    if isinstance(error, (gexc.RetryError, RetriesExhausted)):  # the library's retry, or the core's
        cause = error.cause if isinstance(error, gexc.RetryError) else error.error
        if isinstance(cause, gexc.ResourceExhausted):
            return ThrottledError(f"{where}: Cloud KMS kept refusing for quota reasons: {_message(cause)}")
        detail = f": last error {_message(cause)}" if cause is not None else ""
        return BackendUnavailableError(f"{where}: Cloud KMS did not answer within the deadline{detail}")
    for kinds, signer_error, message, hint in _MAPPING:
        if isinstance(error, kinds):
            return signer_error(f"{where}: " + message.format(message=_message(error)), hint=hint)
    raise error
