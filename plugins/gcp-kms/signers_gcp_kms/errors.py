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


def _message(error: BaseException) -> str:
    # GoogleAPICallError.message is the server's text without the code prefix
    return str(getattr(error, "message", "") or error)


def translate(error: Exception, where: str) -> SignerError:
    """The signers error for an exception raised by a google-cloud-kms call about ``where``."""
    if isinstance(error, SignerError):
        return error
    if isinstance(error, gexc.RetryError):
        cause = error.cause
        if isinstance(cause, gexc.ResourceExhausted):
            return ThrottledError(f"{where}: Cloud KMS kept refusing for quota reasons: {_message(cause)}")
        detail = f": last error {_message(cause)}" if cause is not None else ""
        return BackendUnavailableError(f"{where}: Cloud KMS did not answer within the deadline{detail}")
    if isinstance(error, gexc.ResourceExhausted):
        return ThrottledError(f"{where}: Cloud KMS refused for quota reasons: {_message(error)}")
    if isinstance(error, gexc.ServiceUnavailable | gexc.DeadlineExceeded):
        return BackendUnavailableError(f"{where}: Cloud KMS is unreachable: {_message(error)}")
    if isinstance(error, gexc.NotFound):
        return KeyNotFoundError(
            f"{where}: no such key: {_message(error)}",
            hint="check project, location, key ring, key and version (`signers gcp-kms list`)",
        )
    if isinstance(error, gexc.FailedPrecondition):
        return KeyDisabledError(f"{where}: the key version cannot be used: {_message(error)}")
    if isinstance(error, gexc.PermissionDenied | gexc.Unauthenticated):
        return AuthenticationError(
            f"{where}: Cloud KMS refused the credentials: {_message(error)}",
            hint="grant roles/cloudkms.signerVerifier (and viewer) on the key to the ADC identity",
        )
    if isinstance(error, auth_exceptions.DefaultCredentialsError):
        return AuthenticationError(
            f"{where}: no Application Default Credentials",
            hint="run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS",
        )
    if isinstance(error, gexc.InvalidArgument):
        return ConfigurationError(
            f"{where}: Cloud KMS refused the request: {_message(error)}",
            hint="check the key version name (projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N)",
        )
    if isinstance(error, gexc.GoogleAPICallError):
        return BackendUnavailableError(
            f"{where}: Cloud KMS call failed: {_message(error)}",
            hint="check the service status and the endpoint; nothing was signed, try again later",
        )
    raise error
