"""Names a package exports without importing their modules until first use (PEP 562): the core keeps ``import
signers`` light (no eth-account, no pluggy), the audit package costs nothing when no trail is configured, and a
plugin's entry point imports its package without the cloud SDK or PKCS#11 library, which load only when a
backend or a command of that plugin is used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``names`` maps each exported name to the module (relative to ``package``, like
    ``".backend"``) that defines it, or to ``".module:attribute"`` when the module names it differently. The value
    is then set on the package, so the import runs once per name."""

    def __getattr__(name: str) -> Any:
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = where.partition(":")
        value = getattr(importlib.import_module(module, package), attribute or name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
