"""Signer URIs: ``scheme:target?query``.

    local:env:NAME                         local:keystore:PATH?password-source=env:NAME
    pkcs11:token=T;object=K?pin-source=env:PIN&module-path=/usr/lib/softhsm/libsofthsm2.so   (RFC 7512)
    aws-kms://alias/NAME?region=eu-west-1  aws-kms://arn:aws:kms:...:key/ID
    gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N

The core splits scheme, target and query; each backend reads its own target. Secrets never travel in a
URI: PINs and passwords come from a source (``env:NAME`` or ``file:PATH``, see signers.secrets).

Whatever a user puts in a URI may be a secret put in the wrong place (a private key pasted as the URI, a PIN
as ``pin-value=``), so errors about a URI name the position and the rule, never the text that was refused.
Attribute names are echoed only once they are known ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_to_bytes

from .errors import ConfigurationError

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")

#: the advice for anything that looks like a secret where a URI (or a part of one) goes
NO_SECRET_HINT = (
    "a secret never goes in a URI: put a private key, PIN or password in an environment variable or a file "
    "and name it (local:env:NAME, pin-source=env:NAME, password-source=file:PATH)"
)


@dataclass(frozen=True)
class SignerURI:
    scheme: str
    target: str = field(repr=False)  # the part after "scheme:" (and "//"), before "?"; not percent-decoded
    query: dict[str, str] = field(default_factory=dict, repr=False)
    text: str = field(default="", repr=False)  # never shown: it is what the user typed, secrets included

    def __repr__(self) -> str:
        return f"SignerURI(scheme={self.scheme!r}, attributes={sorted(self.query)!r})"

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)

    def refuse_unknown(self, known: set[str]) -> None:
        """Unknown attributes are named by their position in the query: a name may be a secret too (a key
        pasted as ``?<hex>=``)."""
        positions = [str(i) for i, name in enumerate(self.query, 1) if name not in known]
        if positions:
            raise ConfigurationError(
                f"{self.scheme}: unknown URI attribute(s) at position {', '.join(positions)} of the query",
                hint=f"known: {', '.join(sorted(known)) or 'none'}",
            )


def parse(text: str) -> SignerURI:
    if not isinstance(text, str):
        raise ConfigurationError(f"a signer URI is a str, not a {type(text).__name__}")
    if ":" not in text:
        raise ConfigurationError(
            "not a signer URI: it has no scheme (the text is not shown, in case it is a secret)",
            hint="expected scheme:..., e.g. aws-kms://alias/x or local:env:NAME; " + NO_SECRET_HINT,
        )
    scheme, _, rest = text.partition(":")
    scheme = scheme.lower()
    if not _SCHEME.match(scheme):
        raise ConfigurationError(
            "not a signer URI: the scheme (the text before the first ':') is not a letter followed by letters, "
            "digits, '+', '-' or '.'",
            hint="expected scheme:..., e.g. aws-kms://alias/x; " + NO_SECRET_HINT,
        )
    if rest.startswith("//"):
        rest = rest[2:]
    target, _, query_text = rest.partition("?")
    return SignerURI(scheme, target, _query(scheme, query_text), text)


def _query(scheme: str, text: str) -> dict[str, str]:
    """``a=1&b=x%20y`` -> {"a": "1", "b": "x y"}; every malformed part is named by its position."""
    query: dict[str, str] = {}
    if not text:
        return query
    for position, part in enumerate(text.split("&"), 1):
        where = f"{scheme}: URI query attribute {position}"
        name, eq, value = part.partition("=")
        if not part:
            raise ConfigurationError(f"{where} is empty (a stray '&')", hint="join name=value pairs with one '&'")
        if not eq:
            raise ConfigurationError(f"{where} is not name=value", hint=NO_SECRET_HINT)
        if not _NAME.match(name):
            raise ConfigurationError(
                f"{where} has a malformed name", hint="names are lower-case letters, digits and '-', e.g. pin-source"
            )
        check_percent_encoding(value, where)
        if name in query:
            raise ConfigurationError(f"{where} repeats an earlier attribute", hint="give each attribute once")
        query[name] = unquote(value.replace("+", " "))  # as in an HTML form query (parse_qsl)
    return query


def check_percent_encoding(text: str, where: str) -> None:
    """Refuse a '%' that does not start a %XX escape (urllib would keep it as a literal '%')."""
    if _BAD_PERCENT.search(text):
        raise ConfigurationError(
            f"{where}: malformed percent-encoding", hint="a '%' must be followed by two hex digits, e.g. %01 or %25"
        )


def percent_decode(text: str, where: str) -> bytes:
    """Strict RFC 3986 percent-decoding to bytes."""
    check_percent_encoding(text, where)
    return unquote_to_bytes(text)


def parse_attributes(target: str, separator: str = ";") -> dict[str, str]:
    """``a=1;b=%01`` -> {"a": "1", "b": "\\x01"} (RFC 7512 path attributes), refusing duplicates."""
    attributes: dict[str, str] = {}
    for position, part in enumerate(filter(None, target.split(separator)), 1):
        key, eq, value = part.partition("=")
        if not eq or not _NAME.match(key):
            raise ConfigurationError(f"URI path attribute {position} is not name=value", hint=NO_SECRET_HINT)
        if key in attributes:
            raise ConfigurationError(f"URI path attribute {position} repeats an earlier one", hint="give each once")
        attributes[key] = percent_decode(value, f"URI attribute {key}").decode("latin-1")
    return attributes
