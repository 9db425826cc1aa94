"""``aws-kms://KEY?region=R&profile=P&endpoint-url=URL`` -> which key, and how to reach it.

KEY is a key id (``1234abcd-...`` or a multi-region ``mrk-...``), ``alias/NAME``, or a key or alias ARN.
Credentials never come from the URI: boto3's standard chain supplies them (environment, profile, SSO,
instance or task role). Tuning attributes, also accepted as ``load_signer`` keyword options:
``rate-limit`` (signatures per second, client-side), ``max-attempts``, ``connect-timeout``, ``read-timeout``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from signers.errors import ConfigurationError
from signers.options import number_from_text, positive_number, seconds, whole_number
from signers.uri import SignerURI

SCHEME = "aws-kms"
_KEY_ID = re.compile(
    r"^(mrk-[0-9a-f]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
_ALIAS = re.compile(r"^alias/[A-Za-z0-9/_-]{1,250}$")
_REGION = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")  # botocore's rule, lower case as AWS names them
_ARN = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$")
#: upper bounds of the tuning attributes: a signer answers (or fails) in bounded time
MAX_SECONDS = 600.0
MAX_ATTEMPTS = 10
MAX_RATE = 100_000.0
MAX_POOL_CONNECTIONS = 1024
_URI_ATTRIBUTES = {"region", "profile", "endpoint-url", "rate-limit", "max-attempts", "connect-timeout", "read-timeout"}


@dataclass(frozen=True)
class KmsSettings:
    """How to reach KMS: everything but the credentials, which boto3's chain finds."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 4  # first try included: 1 means no retry
    rate_limit: float | None = None  # signatures (requests) per second, client-side; None = unlimited
    max_pool_connections: int = 64  # >= the threads a service signs from, or they queue for a socket

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            check_endpoint_url(self.endpoint_url)
        if self.region is not None and not (isinstance(self.region, str) and _REGION.match(self.region)):
            # botocore would raise its own InvalidRegionError, and quote the text
            raise ConfigurationError(
                "aws-kms: region is not an AWS region name", hint="e.g. region=eu-west-1 (letters, digits and '-')"
            )
        object.__setattr__(
            self,
            "max_attempts",
            whole_number(
                SCHEME, "max-attempts", self.max_attempts, minimum=1, maximum=MAX_ATTEMPTS,
                hint="1 means no retry; the default is 4",
            ),
        )  # fmt: skip
        for name, attribute in (("connect-timeout", "connect_timeout"), ("read-timeout", "read_timeout")):
            value = seconds(
                SCHEME, name, getattr(self, attribute), maximum=MAX_SECONDS,
                hint="the defaults are connect-timeout=3 and read-timeout=10",
            )  # fmt: skip
            object.__setattr__(self, attribute, value)
        if self.rate_limit is not None:
            rate = positive_number(
                SCHEME, "rate-limit", self.rate_limit, maximum=MAX_RATE, unit="signatures per second",
                hint="leave rate-limit out for no client-side limit",
            )  # fmt: skip
            object.__setattr__(self, "rate_limit", rate)
        connections = whole_number(
            SCHEME, "max_pool_connections", self.max_pool_connections, minimum=1, maximum=MAX_POOL_CONNECTIONS,
            hint="at least the number of threads that sign at once (default 64)",
        )  # fmt: skip
        object.__setattr__(self, "max_pool_connections", connections)


def check_endpoint_url(url: str, where: str = "endpoint-url") -> None:
    """An http(s) URL without userinfo. Credentials never travel in it: a ``user:password@`` part would reach
    describe(), the audit trail's backend column, every error message and botocore's DEBUG log, so it is
    refused (not silently stripped: the user learns that the credentials they wrote were not used).
    Neither error quotes the URL, which may hold the secret."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a malformed port raises ValueError here)
    except (ValueError, TypeError, AttributeError):
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"aws-kms: {where} is not an http(s) URL with a host",
            hint="e.g. endpoint-url=http://127.0.0.1:4566 (percent-encode it inside the URI)",
        )
    if "@" in parts.netloc:
        raise ConfigurationError(
            f"aws-kms: {where} carries userinfo (user:password@), which is refused",
            hint="remove the user:password@ part; credentials come from boto3's chain (environment, profile, role), "
            "never from the URL",
        )


@dataclass(frozen=True)
class KeyRef:
    key: str  # as the user wrote it: key id, alias/NAME or ARN; passed to KMS unchanged
    settings: KmsSettings

    @property
    def is_alias(self) -> bool:
        return self.key.startswith("alias/") or ":alias/" in self.key

    def uri(self) -> str:
        """The URI without secrets (there are none in it): for describe(), logs and the audit trail."""
        query = []
        if self.settings.region:
            query.append(f"region={quote(self.settings.region, safe='')}")
        if self.settings.profile:
            query.append(f"profile={quote(self.settings.profile, safe='')}")
        if self.settings.endpoint_url:
            query.append(f"endpoint-url={quote(self.settings.endpoint_url, safe='')}")
        return f"{SCHEME}://{self.key}" + ("?" + "&".join(query) if query else "")


def check_key(key: str) -> str | None:
    """Validate a key identifier; return the region an ARN names (None for ids and aliases)."""
    if _KEY_ID.match(key) or _ALIAS.match(key):
        return None
    arn = _ARN.match(key)
    if arn:
        return arn.group(2)
    raise ConfigurationError(
        "aws-kms: the URI's target is not a KMS key id, alias/NAME or key ARN",
        hint="e.g. aws-kms://alias/payments-signer?region=eu-west-1 or aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID",
    )


def settings_with(settings: KmsSettings, region_from_key: str | None) -> KmsSettings:
    """Take the region from an ARN when none was given; refuse one that contradicts the ARN."""
    if region_from_key is None:
        return settings
    if settings.region is None:
        return replace(settings, region=region_from_key)
    if settings.region != region_from_key:
        raise ConfigurationError(
            f"aws-kms: region={settings.region} but the key ARN is in {region_from_key}",
            hint="drop region= (the ARN names the region) or fix it",
        )
    return settings


def parse_target(uri: SignerURI, options: dict[str, Any]) -> KeyRef:
    """The key reference of an ``aws-kms://`` URI; keyword ``options`` override URI attributes."""
    uri.refuse_unknown(_URI_ATTRIBUTES)
    key = unquote(uri.target).strip("/")
    if not key:
        raise ConfigurationError(
            "aws-kms: the URI names no key", hint="aws-kms://KEY_ID, aws-kms://alias/NAME or an ARN"
        )
    from_uri: dict[str, Any] = {
        "region": uri.option("region") or None,
        "profile": uri.option("profile") or None,
        "endpoint_url": uri.option("endpoint-url") or None,
        "rate_limit": number_from_text(SCHEME, "rate-limit", uri.option("rate-limit"), float),
        "max_attempts": number_from_text(SCHEME, "max-attempts", uri.option("max-attempts"), int),
        "connect_timeout": number_from_text(SCHEME, "connect-timeout", uri.option("connect-timeout"), float),
        "read_timeout": number_from_text(SCHEME, "read-timeout", uri.option("read-timeout"), float),
    }
    known = set(KmsSettings.__dataclass_fields__)
    unknown = set(options) - known - {"session"}
    if unknown:
        raise ConfigurationError(
            f"aws-kms: unknown option(s) {', '.join(sorted(unknown))}",
            hint=f"known: {', '.join(sorted(known | {'session'}))}",
        )
    merged = {k: v for k, v in from_uri.items() if v is not None}
    merged.update({k: v for k, v in options.items() if k in known and v is not None})
    settings = KmsSettings(**merged)
    return KeyRef(key, settings_with(settings, check_key(key)))
