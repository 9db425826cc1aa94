"""Names a package exports without importing their modules until first use (PEP 562), for plugins whose
package must stay light: the entry point imports the package, and a cloud SDK or PKCS#11 library should load
only when a backend or a command of that plugin is used."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``names`` maps each exported name to the module (relative to ``package``, like
    ``".backend"``) that defines it."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module, package), name)

    return __getattr__
