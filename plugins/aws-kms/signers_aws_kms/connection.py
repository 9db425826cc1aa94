"""One boto3 KMS client with explicit timeouts, bounded retries with jitter, an optional rate limit, and
every failure turned into a signers error that says what to do (``errors``).

botocore's own retries are switched off (``total_max_attempts=1``): the core's bounded retry
(``signers.retry``) runs instead, so the bound is exact, each attempt passes the rate limiter (AWS counts
retries against the quota too), and the final error says how many attempts were made. A retried ``Sign``
that had in fact succeeded server-side produced a signature nobody received; the caller still gets exactly
one signature, the one verified.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import boto3
import botocore.config
import botocore.exceptions as bx

from signers.errors import ConfigurationError
from signers.retry import Attempt, RetriesExhausted, RetryPolicy

from . import errors
from .errors import IncompleteAnswer
from .ratelimit import TokenBucket
from .uri import KmsSettings, check_endpoint_url

log = logging.getLogger("signers_aws_kms")

# the member a successful answer of each operation must carry: a service going down (LocalStack during its
# shutdown, a proxy in between) can answer 2xx with an empty body, which botocore parses as a success
REQUIRED_MEMBER = {
    "sign": "Signature",
    "get_public_key": "PublicKey",
    "describe_key": "KeyMetadata",
    "create_key": "KeyMetadata",
}
#: the longest pause between attempts (seconds)
MAX_PAUSE = 2.0


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
        self._retry = RetryPolicy(attempts=settings.max_attempts, maximum=MAX_PAUSE)
        self._stats_lock = threading.Lock()
        self.requests = 0  # attempts made, retries included (for metrics and tests)
        self.retries = 0

    def call(self, operation: str, subject: str, *, idempotent: bool = True, **params: Any) -> dict[str, Any]:
        """``idempotent=False`` for calls that must not happen twice (CreateKey, ImportKeyMaterial): they are
        retried only when KMS certainly did not act (throttled, or the connection was never made); after an
        ambiguous failure (a lost answer, a 5xx) a retry could make a second, orphan key, so the error says to
        check instead."""
        method = getattr(self.client, operation)

        def attempt(_: Attempt) -> dict[str, Any]:
            if self._bucket is not None:
                # bounded like a request: a caller queued behind the limit gets ThrottledError, not a hang
                self._bucket.acquire(timeout=self.settings.read_timeout)
            with self._stats_lock:
                self.requests += 1
            response: dict[str, Any] = method(**params)
            member = REQUIRED_MEMBER.get(operation)
            if member is not None and member not in response:
                raise IncompleteAnswer(member, response)
            return response

        def on_retry(exc: Exception, attempt: Attempt, pause: float) -> None:
            log.warning(
                "%s: %s attempt %d/%d failed (%s); retrying in %.0f ms",
                subject, operation, attempt.number, self.settings.max_attempts, errors.describe(exc), pause * 1000,
            )  # fmt: skip
            with self._stats_lock:
                self.retries += 1

        try:
            return self._retry.run(attempt, lambda exc: errors.retry_pause(exc, idempotent=idempotent), on_retry)
        except RetriesExhausted as gave_up:
            raise errors.exhausted(gave_up.error, subject, operation, gave_up.attempts, self.endpoint) from None
        except Exception as exc:  # anything that is not KMS's propagates unchanged
            error = errors.failed(
                exc, subject, operation, region=self.region, endpoint=self.endpoint, idempotent=idempotent
            )
            if error is None:
                raise
            raise error from None
