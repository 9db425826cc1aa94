"""PINs and passwords: read from a source, never from a plain config value, never shown."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import SecretSourceError


class Secret:
    """A secret value whose repr and str never show it. ``reveal()`` at the point of use only."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(source={self.source!r})"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def read_secret(source: str | None, what: str) -> Secret:
    """``env:NAME`` or ``file:PATH`` (one trailing newline stripped)."""
    if not source:
        raise SecretSourceError(f"no {what} source given", hint=f"add {what}-source=env:NAME or file:PATH")
    kind, _, name = source.partition(":")
    if kind == "env" and name:
        value = os.environ.get(name)
        if value is None:
            raise SecretSourceError(f"{what} source env:{name}: the environment variable is not set")
        return Secret(value, source)
    if kind == "file" and name:
        try:
            value = Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretSourceError(f"{what} source file:{name}: {exc.strerror}") from None
        except UnicodeDecodeError:  # its message would quote the secret's bytes
            raise SecretSourceError(f"{what} source file:{name}: not UTF-8 text") from None
        return Secret(value[:-1] if value.endswith("\n") else value, source)
    raise SecretSourceError(
        f"{what} source must be env:NAME or file:PATH",
        hint=f"a {what} is never accepted in plain text",
    )
