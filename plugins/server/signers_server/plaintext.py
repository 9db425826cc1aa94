"""No plaintext secret in the configuration: fields that only ever hold one, values shaped like a private key,
URIs with a secret attribute. Each refusal names the field, never the value."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .readers import ConfigError

_SECRET_NAMES = re.compile(r"^(token|password|passphrase|pin|secret|private_?key|api_?key|key_?password|credentials?)$")
_PRIVATE_KEY_LIKE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
URI_SECRET_ATTRIBUTES = re.compile(r"(^|[;?&])(pin-value|password|pin|secret|token)=", re.IGNORECASE)


def refuse_secrets(value: Any, where: str) -> None:
    """Refuse plaintext secrets anywhere (the sessions table excepted: salts are 32-byte hex, not secrets)."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            here = f"{where}{name}"
            if here == "sessions" or str(name).endswith(("sha256", "_hash")):  # salts and hashes: not secrets
                continue
            if _SECRET_NAMES.match(str(name).lower()):
                raise ConfigError(
                    f"{here}: a plaintext secret is not accepted in the configuration",
                    hint="client tokens go in token_hash (make one with `signers serve hash-token`); PINs and "
                    "passwords in a source (pin-source=env:NAME or file:PATH)",
                )
            refuse_secrets(item, here + ".")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_secrets(item, f"{where[:-1]}[{index}].")
    elif isinstance(value, str) and _PRIVATE_KEY_LIKE.match(value.strip()):
        raise ConfigError(
            f"{where[:-1]}: holds 32 bytes of hex, which looks like a private key or token",
            hint="keys are named by URI (local:env:NAME for development), tokens stored as token_hash",
        )
