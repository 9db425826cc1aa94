"""``gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N[?endpoint=&timeout=&deadline=]``"""

from __future__ import annotations

import re
from typing import Any

from signers.errors import ConfigurationError
from signers.options import whole_number
from signers.uri import SignerURI

from .backend import DEFAULT_INTEGRITY_RETRIES, GcpKmsBackend
from .connection import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, CallPolicy, check_seconds

_ID = r"[a-zA-Z0-9_-]{1,63}"
VERSION_NAME = re.compile(
    rf"^projects/[^/?]+/locations/[^/?]+/keyRings/{_ID}/cryptoKeys/{_ID}/cryptoKeyVersions/[1-9][0-9]*$"
)
KEY_NAME = re.compile(rf"^projects/[^/?]+/locations/[^/?]+/keyRings/{_ID}/cryptoKeys/{_ID}$")
ATTRIBUTES = {"endpoint", "timeout", "deadline"}
MAX_INTEGRITY_RETRIES = 10


def version_uri(name: str, endpoint: str | None = None) -> str:
    return f"gcp-kms://{name}" + (f"?endpoint={endpoint}" if endpoint else "")


def _seconds(uri: SignerURI, attribute: str, default: float) -> float:
    text = uri.option(attribute)
    return default if text is None else check_seconds(attribute, text)


def _integrity_retries(value: object) -> int:
    """0..MAX_INTEGRITY_RETRIES: each retry is another full sign call, so the count is bounded too."""
    return whole_number(
        "gcp-kms", "integrity_retries", value, minimum=0, maximum=MAX_INTEGRITY_RETRIES,
        hint=f"leave it out (default {DEFAULT_INTEGRITY_RETRIES}) or give 0..{MAX_INTEGRITY_RETRIES}",
    )  # fmt: skip


def from_uri(uri: SignerURI, **options: Any) -> GcpKmsBackend:
    """Options: ``credentials`` (google-auth credentials instead of ADC), ``timeout``/``deadline`` (seconds,
    overriding the URI's), ``integrity_retries``."""
    uri.refuse_unknown(ATTRIBUTES)
    name = uri.target.strip("/")
    if not VERSION_NAME.match(name):
        hint = "gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N"
        if KEY_NAME.match(name):
            hint = "Cloud KMS signs with a key version: append /cryptoKeyVersions/N"
        raise ConfigurationError("gcp-kms: the URI's target is not a Cloud KMS key version name", hint=hint)
    unknown = set(options) - {"credentials", "timeout", "deadline", "integrity_retries"}
    if unknown:
        raise ConfigurationError(
            f"gcp-kms: unknown option(s) {', '.join(sorted(unknown))}",
            hint="known: credentials, timeout, deadline, integrity_retries",
        )
    policy = CallPolicy(
        timeout=options.get("timeout", _seconds(uri, "timeout", DEFAULT_TIMEOUT)),
        deadline=options.get("deadline", _seconds(uri, "deadline", DEFAULT_DEADLINE)),
    )
    return GcpKmsBackend(
        name,
        endpoint=uri.option("endpoint"),
        credentials=options.get("credentials"),
        policy=policy,
        integrity_retries=_integrity_retries(options.get("integrity_retries", DEFAULT_INTEGRITY_RETRIES)),
    )
