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
    """``env:NAME`` or ``file:PATH`` (one trailing newline stripped).

    The NAME or PATH is never quoted in an error: a PIN or password typed where its source goes
    (``pin-source=env:1234``) would otherwise be echoed back. Errors name the attribute and the rule."""
    where = f"{what}-source"
    if not source:
        raise SecretSourceError(f"no {what} source given", hint=f"add {where}=env:NAME or file:PATH")
    kind, _, name = source.partition(":")
    if kind == "env" and name:
        value = os.environ.get(name)
        if value is None:
            raise SecretSourceError(
                f"{where}=env:...: the environment variable it names is not set",
                hint=f"export the variable (the name after env:, not the {what} itself) before starting",
            )
        return Secret(value, source)
    if kind == "file" and name:
        try:
            value = Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretSourceError(
                f"{where}=file:...: cannot read the file it names ({exc.strerror})",
                hint=f"give the path of a readable file holding the {what} (not the {what} itself)",
            ) from None
        except UnicodeDecodeError:  # its message would quote the secret's bytes
            raise SecretSourceError(f"{where}=file:...: the file it names is not UTF-8 text") from None
        return Secret(value[:-1] if value.endswith("\n") else value, source)
    raise SecretSourceError(
        f"{where} must be env:NAME or file:PATH",
        hint=f"a {what} is never accepted in plain text",
    )
