"""``pkcs11:`` URIs (RFC 7512), reduced to what selects one private key and how to log in.

    pkcs11:token=signers-dev;object=session-1?pin-source=env:HSM_PIN
    pkcs11:token=signers-dev;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin

Path attributes: token, object, id (percent-encoded bytes), serial, manufacturer, model, slot-id, type
(only ``private`` makes sense here). Query attributes: module-path (default ``$PKCS11_MODULE``),
pin-source (``env:NAME`` or ``file:PATH``) and lock-timeout (seconds a call waits for the module while another
thread is inside it; default 30, at most 600). ``pin-value`` is refused: a PIN never travels in a URI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from signers.errors import ConfigurationError
from signers.options import seconds
from signers.uri import NO_SECRET_HINT, SignerURI, percent_decode

PATH_ATTRIBUTES = {"token", "object", "id", "serial", "manufacturer", "model", "slot-id", "type"}
QUERY_ATTRIBUTES = {"module-path", "pin-source", "lock-timeout"}
#: seconds a call waits for a module that another thread is inside of (a hung device holds it)
DEFAULT_LOCK_TIMEOUT = 30.0
MAX_LOCK_TIMEOUT = 600.0
HINT = "e.g. pkcs11:token=LABEL;object=KEY?pin-source=env:HSM_PIN (RFC 7512)"


@dataclass(frozen=True)
class Pkcs11URI:
    """Which token, which key, which module, and where the PIN comes from (never the PIN itself)."""

    module_path: str
    token: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    slot_id: int | None = None
    object: str | None = None
    id: bytes | None = None
    pin_source: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT

    def key_selector(self) -> str:
        """``object='x' id=01`` for messages."""
        parts = []
        if self.object is not None:
            parts.append(f"object={self.object!r}")
        if self.id is not None:
            parts.append(f"id={self.id.hex()}")
        return " ".join(parts)

    def token_selector(self) -> str:
        parts = [
            f"{name}={value!r}"
            for name, value in (
                ("token", self.token),
                ("serial", self.serial),
                ("manufacturer", self.manufacturer),
                ("model", self.model),
                ("slot-id", self.slot_id),
            )
            if value is not None
        ]
        return " ".join(parts) or "any token"

    def text(self) -> str:
        """The canonical URI (safe to log: a pin-source names a variable or file, not a PIN)."""
        path = []
        for name, value in (
            ("token", self.token),
            ("serial", self.serial),
            ("manufacturer", self.manufacturer),
            ("model", self.model),
            ("slot-id", None if self.slot_id is None else str(self.slot_id)),
            ("object", self.object),
        ):
            if value is not None:
                path.append(f"{name}={quote(value, safe='')}")
        if self.id is not None:
            path.append("id=" + "".join(f"%{b:02X}" for b in self.id))
        query = [f"module-path={self.module_path}"]
        if self.pin_source:
            query.append(f"pin-source={self.pin_source}")
        if self.lock_timeout != DEFAULT_LOCK_TIMEOUT:
            query.append(f"lock-timeout={self.lock_timeout:g}")
        return "pkcs11:" + ";".join(path) + "?" + "&".join(query)


def _split_path(target: str) -> dict[str, bytes]:
    """Path attributes, percent-decoded strictly (``id=%zz`` is refused, not taken as the bytes "%zz").
    Errors name an attribute by its position until its name is known to be one: never the text."""
    attributes: dict[str, bytes] = {}
    for position, part in enumerate(filter(None, target.split(";")), 1):
        name, eq, value = part.partition("=")
        if not eq:
            raise ConfigurationError(
                f"pkcs11: path attribute {position} has no value (not name=value)", hint=NO_SECRET_HINT
            )
        if name not in PATH_ATTRIBUTES:
            raise ConfigurationError(
                f"pkcs11: unsupported path attribute at position {position}",
                hint=f"supported: {', '.join(sorted(PATH_ATTRIBUTES))}",
            )
        if name in attributes:
            raise ConfigurationError(f"pkcs11: path attribute {name!r} given twice", hint=HINT)
        attributes[name] = percent_decode(value, f"pkcs11: path attribute {name}")
    return attributes


def parse_pkcs11_uri(uri: SignerURI) -> Pkcs11URI:
    if "pin-value" in uri.query:
        raise ConfigurationError(
            "pkcs11: pin-value is refused: a PIN never travels in a URI",
            hint="put the PIN in an environment variable or a file and use pin-source=env:NAME or file:PATH",
        )
    uri.refuse_unknown(QUERY_ATTRIBUTES)
    raw = _split_path(uri.target)
    if raw.get("type", b"private") != b"private":
        raise ConfigurationError(
            "pkcs11: a key of this type= cannot sign (only type=private can)", hint="use type=private or leave it out"
        )
    if "object" not in raw and "id" not in raw:
        raise ConfigurationError("pkcs11: the URI names no key", hint="add object=LABEL or id=%01 " + HINT)
    slot_id = None
    if "slot-id" in raw:
        digits = raw["slot-id"].decode("ascii", "replace")
        if not digits.isdecimal():
            raise ConfigurationError("pkcs11: slot-id must be a number", hint="e.g. slot-id=0; or select by token=")
        slot_id = int(digits)
    module_path = uri.option("module-path") or os.environ.get("PKCS11_MODULE")
    if not module_path:
        raise ConfigurationError(
            "pkcs11: no PKCS#11 module given",
            hint="add module-path=/path/to/vendor-module.so to the URI or set PKCS11_MODULE",
        )

    def text(name: str) -> str | None:
        if name not in raw:
            return None
        try:
            return raw[name].decode("utf-8")  # CK_UTF8CHAR labels
        except UnicodeDecodeError:
            raise ConfigurationError(f"pkcs11: {name} is not UTF-8 once percent-decoded", hint=HINT) from None

    lock_timeout = _lock_timeout(uri.option("lock-timeout"))

    return Pkcs11URI(
        module_path=module_path,
        token=text("token"),
        serial=text("serial"),
        manufacturer=text("manufacturer"),
        model=text("model"),
        slot_id=slot_id,
        object=text("object"),
        id=raw.get("id"),
        pin_source=uri.option("pin-source"),
        lock_timeout=lock_timeout,
    )


def _lock_timeout(text: str | None) -> float:
    """Finite and bounded: inf (or nan) would bring back the endless wait behind a hung device call."""
    if text is None:
        return DEFAULT_LOCK_TIMEOUT
    return seconds(
        "pkcs11", "lock-timeout", text, maximum=MAX_LOCK_TIMEOUT,
        hint=f"give a finite number above 0 and at most {MAX_LOCK_TIMEOUT:g} (default {DEFAULT_LOCK_TIMEOUT:g})",
    )  # fmt: skip
