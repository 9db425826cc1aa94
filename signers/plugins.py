"""Backends by URI scheme, and ``load_signer``: only the plugin that owns a URI's scheme is imported."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pluggy

from .errors import ConfigurationError, UnknownSchemeError
from .hookspecs import BackendFactory
from .manager import deferred_plugin, get_plugin_manager, load_deferred
from .signer import Signer
from .uri import parse

__all__ = ["BackendInfo", "backend_for", "backends", "get_plugin_manager", "load_signer"]

_lock = threading.Lock()
_backends: dict[str, BackendInfo] | None = None  # the scheme table, rebuilt when a plugin is added


@dataclass(frozen=True)
class BackendInfo:
    scheme: str
    factory: BackendFactory
    description: str
    plugin: str


def _scheme_table(manager: pluggy.PluginManager) -> dict[str, BackendInfo]:
    global _backends
    with _lock:
        if _backends is None:
            found: dict[str, BackendInfo] = {}
            for impl in manager.hook.register_backends.get_hookimpls():

                def register(
                    scheme: str, factory: BackendFactory, description: str = "", _p: str = impl.plugin_name
                ) -> None:
                    if scheme in found:
                        raise ConfigurationError(
                            f"URI scheme {scheme!r} is registered by both {found[scheme].plugin} and {_p}",
                            hint="uninstall one of the two plugins",
                        )
                    found[scheme] = BackendInfo(scheme, factory, description, _p)

                impl.function(register=register)
            _backends = found
        return _backends


def backends() -> dict[str, BackendInfo]:
    """Every registered URI scheme, by scheme (every installed plugin is imported to list them)."""
    global _backends
    manager = get_plugin_manager()
    if load_deferred():
        _backends = None
    return _scheme_table(manager)


def backend_for(scheme: str) -> BackendInfo | None:
    """The backend of one scheme, importing only the plugin that declares it (all of them if none does)."""
    global _backends
    manager = get_plugin_manager()
    info = _scheme_table(manager).get(scheme)
    plugin = deferred_plugin(scheme) if info is None else None
    if plugin is not None and load_deferred([plugin]):
        _backends = None
        info = _scheme_table(manager).get(scheme)
    return info if info is not None else backends().get(scheme)


def load_signer(uri: str, *, chain_id: int | None = None, **options: Any) -> Signer:
    """A Signer for ``uri``; ``options`` go to the backend's factory (e.g. a boto3 session)."""
    parsed = parse(uri)
    info = backend_for(parsed.scheme)
    if info is None:
        # the scheme is not quoted (a secret pasted before a ':' would be echoed); the installed ones are listed
        installed = ", ".join(sorted(backends()))
        raise UnknownSchemeError(f"no installed backend handles this URI's scheme (installed: {installed})")
    return Signer(info.factory(parsed, **options), chain_id=chain_id, plugin_manager=get_plugin_manager())
