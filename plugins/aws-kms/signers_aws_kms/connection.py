"""One boto3 KMS client with explicit timeouts, bounded retries with jitter, an optional rate limit, and
every failure turned into a signers error that says what to do.

botocore's own retries are switched off (``total_max_attempts=1``): this module retries instead, so the
bound is exact, each attempt passes the rate limiter (AWS counts retries against the quota too), and the
final error says how many attempts were made. A retried ``Sign`` that had in fact succeeded server-side
produced a signature nobody received; the caller still gets exactly one signature, the one verified.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any

import boto3
import botocore.config
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

from .ratelimit import TokenBucket
from .target import KmsSettings, check_endpoint_url

log = logging.getLogger("signers_aws_kms")

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
# the member a successful answer of each operation must carry: a service going down (LocalStack during its
# shutdown, a proxy in between) can answer 2xx with an empty body, which botocore parses as a success
REQUIRED_MEMBER = {
    "sign": "Signature",
    "get_public_key": "PublicKey",
    "describe_key": "KeyMetadata",
    "create_key": "KeyMetadata",
}
CREDENTIALS_HINT = (
    "boto3 found no usable credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (LocalStack accepts any, "
    "e.g. test/test), AWS_PROFILE or profile=, or run where a role is attached; credentials never go in the URI"
)


def make_session(settings: KmsSettings) -> boto3.Session:
    try:
        # a profile is looked up among the configured ones before boto3 is given it: botocore logs the name at
        # DEBUG, and a secret typed into profile= must not reach that log
        if settings.profile is not None and settings.profile not in boto3.Session().available_profiles:
            raise bx.ProfileNotFound(profile="?")
        return boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except bx.ProfileNotFound:
        raise ConfigurationError(
            "aws-kms: the AWS profile named by profile= is not configured",
            hint="check ~/.aws/config (or AWS_CONFIG_FILE), or drop profile= to use the default chain",
        ) from None


class KmsConnection:
    """A thread-safe KMS client. ``call("sign", subject, **params)`` returns the response or raises one
    SignerError; ``subject`` (a URI or key id, never a secret) prefixes the message."""

    def __init__(self, settings: KmsSettings, session: boto3.Session | None = None) -> None:
        self.settings = settings
        session = session or make_session(settings)
        config = botocore.config.Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=settings.max_pool_connections,
        )
        if settings.endpoint_url is None:
            # botocore also takes the endpoint from the environment: it obeys the same rule (no userinfo)
            for variable in ("AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"):
                if os.environ.get(variable):
                    check_endpoint_url(os.environ[variable], variable)
        try:
            self.client = session.client(
                "kms", region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
            )
        except bx.NoRegionError:
            raise ConfigurationError(
                "aws-kms: no AWS region configured",
                hint="add region= to the URI, use a key ARN, or set AWS_REGION / AWS_DEFAULT_REGION",
            ) from None
        except bx.InvalidRegionError:  # from AWS_REGION or a profile: region= itself is checked in KmsSettings
            raise ConfigurationError(
                "aws-kms: the configured AWS region is not a region name",
                hint="check AWS_REGION / AWS_DEFAULT_REGION and the profile's region, e.g. eu-west-1",
            ) from None
        self.region = self.client.meta.region_name
        self.endpoint = self.client.meta.endpoint_url
        self._bucket = TokenBucket(settings.rate_limit) if settings.rate_limit else None
        self._stats_lock = threading.Lock()
        self.requests = 0  # attempts made, retries included (for metrics and tests)
        self.retries = 0

    def call(self, operation: str, subject: str, *, idempotent: bool = True, **params: Any) -> dict[str, Any]:
        """``idempotent=False`` for calls that must not happen twice (CreateKey, ImportKeyMaterial): they are
        retried only when KMS certainly did not act (throttled, or the connection was never made); after an
        ambiguous failure (a lost answer, a 5xx) a retry could make a second, orphan key, so the error says to
        check instead."""
        method = getattr(self.client, operation)
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            if self._bucket is not None:
                # bounded like a request: a caller queued behind the limit gets ThrottledError, not a hang
                self._bucket.acquire(timeout=self.settings.read_timeout)
            with self._stats_lock:
                self.requests += 1
            try:
                response: dict[str, Any] = method(**params)
                member = REQUIRED_MEMBER.get(operation)
                if member is not None and member not in response:
                    raise IncompleteAnswer(member, response)
                return response
            except Exception as exc:  # classified below; anything unexpected propagates unchanged
                retryable, reason = self._classify(exc)
                if reason is None:
                    raise
                if not retryable:
                    raise self._error(exc, subject, operation) from None
                if not idempotent and not _not_applied(exc, reason):
                    raise self._not_retried(exc, subject, operation) from None
                if attempt == attempts:
                    raise self._exhausted(exc, subject, operation, attempts) from None
                delay = self._backoff(attempt, throttled=reason == "throttled")
                log.warning(
                    "%s: %s attempt %d/%d failed (%s); retrying in %.0f ms",
                    subject,
                    operation,
                    attempt,
                    attempts,
                    _describe(exc),
                    delay * 1000,
                )
                with self._stats_lock:
                    self.retries += 1
                time.sleep(delay)
        raise AssertionError("unreachable")

    # -- classification -----------------------------------------------------------------------------
    @staticmethod
    def _classify(exc: Exception) -> tuple[bool, str | None]:
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

    def _backoff(self, attempt: int, *, throttled: bool) -> float:
        # exponential with "equal jitter": never zero (so a burst of throttled callers really backs off),
        # never synchronised (so they do not come back together); throttling starts from a longer base
        base = 0.1 if throttled else 0.05
        ceiling: float = min(2.0, base * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _not_retried(self, exc: Exception, subject: str, operation: str) -> SignerError:
        return BackendUnavailableError(
            f"{subject}: KMS {operation} failed and was not retried (not idempotent; KMS may have done it "
            f"although the answer was lost): {_describe(exc)}",
            hint=f"check first (signers aws-kms list --endpoint-url {self.endpoint}, or aws kms list-keys) before "
            "trying again, and schedule any unwanted key for deletion",
        )

    def _exhausted(self, exc: Exception, subject: str, operation: str, attempts: int) -> SignerError:
        tries = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
        if isinstance(exc, bx.ClientError) and _code(exc) in THROTTLING_CODES:
            return ThrottledError(f"{subject}: KMS throttled {operation} {tries} ({_code(exc)}); nothing was signed")
        if isinstance(exc, (bx.ClientError, IncompleteAnswer)):
            return BackendUnavailableError(
                f"{subject}: KMS failed {operation} {tries}: {_describe(exc)}",
                hint="the KMS service failed (an internal error or an answer without its result); nothing was signed, "
                "try again later",
            )
        return BackendUnavailableError(
            f"{subject}: cannot reach KMS at {self.endpoint} for {operation} {tries}: {_describe(exc)}",
            hint="check the endpoint, network and proxy (and connect-timeout/read-timeout); nothing was signed",
        )

    def _error(self, exc: Exception, subject: str, operation: str) -> SignerError:
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
                text, hint=f"check the key id or alias, the region ({self.region}) and the account of the credentials"
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


class IncompleteAnswer(Exception):
    """A 2xx answer without the member the operation must return; retried like a server error."""

    def __init__(self, member: str, response: dict[str, Any]) -> None:
        super().__init__(member)
        self.member = member
        self.status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class AlreadyExistsError(ConfigurationError):
    """KMS refused to create something (an alias) whose name is taken."""


def state_hint(message: str) -> str:
    if "pending deletion" in message.lower() or "PendingDeletion" in message:
        return "the key is scheduled for deletion: cancel it (aws kms cancel-key-deletion) and enable the key"
    if "import" in message.lower():
        return "the key has no key material yet: import it (signers aws-kms import) or use another key"
    return "the key is not usable in its current state: check `signers custody` and enable it"


def _code(exc: bx.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "") or _status(exc))


def _message(exc: bx.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _status(exc: bx.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _not_applied(exc: Exception, reason: str | None) -> bool:
    """True when KMS certainly did not act on the request: it refused it for rate, or it never received it."""
    return reason == "throttled" or isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError))


def _describe(exc: Exception) -> str:
    if isinstance(exc, bx.ClientError):
        return f"{_code(exc)} (HTTP {_status(exc)})"
    if isinstance(exc, IncompleteAnswer):
        return f"an answer without {exc.member} (HTTP {exc.status})"
    return type(exc).__name__


def _action(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))
