"""Typed readers for the TOML tables: each names the field it refused (``clients.app.keys: ...``), never
its value."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signers.errors import ConfigurationError

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


class ConfigError(ConfigurationError):
    """The service configuration is invalid; the message names the field."""

    hint = "fix the field named and run `signers serve --config FILE --check-config`"


def table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: must be a table")
    return value


def known(table: Mapping[str, Any], prefix: str, names: set[str]) -> None:
    unknown = sorted(set(table) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown field", hint=f"known here: {', '.join(sorted(names))}")


def string(table: Mapping[str, Any], where: str, default: str) -> str:
    value = table.get(where.rsplit(".", 1)[-1], default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string")
    return value


def opt_string(table: Mapping[str, Any], where: str) -> str | None:
    value = table.get(where.rsplit(".", 1)[-1])
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string")
    return value


def integer(table: Mapping[str, Any], where: str, default: int) -> int:
    value = table.get(where.rsplit(".", 1)[-1], default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: must be a non-negative integer")
    return value


def opt_integer(table: Mapping[str, Any], where: str) -> int | None:
    return integer(table, where, 0) if where.rsplit(".", 1)[-1] in table else None


def boolean(table: Mapping[str, Any], where: str, default: bool) -> bool:
    value = table.get(where.rsplit(".", 1)[-1], default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false")
    return value


def string_list(table: Mapping[str, Any], where: str) -> list[str]:
    value = table.get(where.rsplit(".", 1)[-1], [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: must be a list of strings")
    return value


def path_text(value: str, base: Path) -> str:
    return value if value == "-" else str(base / value)


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
