"""Signer URIs: ``scheme:target?query``.

    local:env:NAME                         local:keystore:PATH?password-source=env:NAME
    pkcs11:token=T;object=K?pin-source=env:PIN&module-path=/usr/lib/softhsm/libsofthsm2.so   (RFC 7512)
    aws-kms://alias/NAME?region=eu-west-1  aws-kms://arn:aws:kms:...:key/ID
    gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N

The core splits scheme, target and query; each backend reads its own target. Secrets never travel in a
URI: PINs and passwords come from a source (``env:NAME`` or ``file:PATH``, see signers.secrets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from .errors import ConfigurationError

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


@dataclass(frozen=True)
class SignerURI:
    scheme: str
    target: str  # the part after "scheme:" (and "//"), before "?"; not percent-decoded
    query: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)

    def refuse_unknown(self, known: set[str]) -> None:
        unknown = set(self.query) - known
        if unknown:
            raise ConfigurationError(
                f"{self.scheme}: unknown URI attribute(s) {', '.join(sorted(unknown))}",
                hint=f"known: {', '.join(sorted(known)) or 'none'}",
            )


def parse(text: str) -> SignerURI:
    if not isinstance(text, str) or ":" not in text:
        raise ConfigurationError(f"not a signer URI: {text!r}", hint="expected scheme:..., e.g. aws-kms://alias/x")
    scheme, _, rest = text.partition(":")
    scheme = scheme.lower()
    if not _SCHEME.match(scheme):
        raise ConfigurationError(f"not a signer URI scheme: {scheme!r}")
    if rest.startswith("//"):
        rest = rest[2:]
    target, _, query_text = rest.partition("?")
    try:
        pairs = parse_qsl(query_text, keep_blank_values=True, strict_parsing=bool(query_text))
    except ValueError:
        raise ConfigurationError(f"{scheme}: malformed query {query_text!r}") from None
    query: dict[str, str] = {}
    for key, value in pairs:
        if key in query:
            raise ConfigurationError(f"{scheme}: URI attribute {key!r} given twice")
        query[key] = value
    return SignerURI(scheme, target, query, text)


def parse_attributes(target: str, separator: str = ";") -> dict[str, str]:
    """``a=1;b=%01`` -> {"a": "1", "b": "\\x01"} (RFC 7512 path attributes), refusing duplicates."""
    attributes: dict[str, str] = {}
    for part in filter(None, target.split(separator)):
        key, eq, value = part.partition("=")
        if not eq:
            raise ConfigurationError(f"URI attribute {part!r} has no value")
        if key in attributes:
            raise ConfigurationError(f"URI attribute {key!r} given twice")
        attributes[key] = unquote(value, encoding="latin-1")
    return attributes
