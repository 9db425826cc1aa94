"""Checks of a backend's numeric options (timeouts, deadlines, attempts, rates), written once.

Every bound is finite: inf or nan would turn a timeout, a retry loop or a rate limiter's wait into a wait
forever (nan also slips through comparisons such as ``<= 0``). An error names the option and the rule; it
shows the value only when the value is a number, never text, which may be a secret typed into the wrong
field.
"""

from __future__ import annotations

import math

from .errors import ConfigurationError


def _as_number(value: object) -> float | None:
    """The value as a float when it is a number or text of one (nan and inf included); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def positive_number(
    scheme: str, name: str, value: object, *, maximum: float, unit: str = "seconds", hint: str = ""
) -> float:
    """A finite number in (0, maximum], from a number or its text; else a ConfigurationError naming ``name``."""
    number = _as_number(value)
    if number is not None and math.isfinite(number) and 0 < number <= maximum:
        return number
    shown = "..." if number is None else repr(value)
    suffix = " s" if unit == "seconds" else ""
    raise ConfigurationError(
        f"{scheme}: {name}={shown} must be a positive, finite number of {unit}, at most {maximum:g}{suffix}: "
        f"{shown} is not a usable number of {unit}" + (" (not a number)" if number is None else ""),
        hint=hint or None,
    )


def seconds(scheme: str, name: str, value: object, *, maximum: float = 600.0, hint: str = "") -> float:
    """A timeout, deadline or other duration in seconds: finite, above 0, at most ``maximum``."""
    return positive_number(scheme, name, value, maximum=maximum, unit="seconds", hint=hint)


def whole_number(scheme: str, name: str, value: object, *, minimum: int, maximum: int, hint: str = "") -> int:
    """A whole number in [minimum, maximum], from an int or its decimal text (bools are not numbers)."""
    number: int | None = None
    if isinstance(value, str) and value.strip().lstrip("+-").isdecimal():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is not None and minimum <= number <= maximum:
        return number
    shown = "..." if _as_number(value) is None else repr(value)
    raise ConfigurationError(
        f"{scheme}: {name}={shown} must be a whole number from {minimum} to {maximum} "
        f"(at least {minimum}, at most {maximum})" + ("" if number is not None else f": {shown} is not a whole number"),
        hint=hint or None,
    )


def number_from_text(scheme: str, name: str, text: str | None, kind: type[float] | type[int] = float) -> float | None:
    """A URI attribute's text as a number (None when absent), for the checks above; text that is not one is
    refused without being shown."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigurationError(f"{scheme}: {name} is not a number", hint=f"give {name} as digits") from None
