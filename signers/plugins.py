"""The plugin manager: entry-point group "signers", built-in plugins loaded through the same path."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError, UnknownSchemeError
from .hookspecs import BackendFactory
from .signer import Signer
from .uri import parse

ENTRY_POINT_GROUP = "signers"
# The core's own plugins are also declared as entry points in pyproject.toml; this list only makes a
# source checkout that was never pip-installed work the same way.
BUILTIN_PLUGINS = {"local": "signers.local", "aa-scope": "signers.aa.scope:SCOPE_CHECK"}

_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None
_backends: dict[str, BackendInfo] | None = None


@dataclass(frozen=True)
class BackendInfo:
    scheme: str
    factory: BackendFactory
    description: str
    plugin: str


def get_plugin_manager() -> pluggy.PluginManager:
    global _manager
    with _lock:
        if _manager is None:
            manager = pluggy.PluginManager("signers")
            manager.add_hookspecs(hookspecs)
            _load_entry_points(manager)
            for name, target in BUILTIN_PLUGINS.items():
                if manager.get_plugin(name) is None:
                    module, _, attribute = target.partition(":")
                    plugin = importlib.import_module(module)
                    manager.register(getattr(plugin, attribute) if attribute else plugin, name=name)
            from .audit import from_environment

            trail = from_environment()
            if trail is not None:
                manager.register(trail, name="audit:environment")
            _manager = manager
        return _manager


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    """Like pluggy's load_setuptools_entrypoints, but a broken plugin is named in a clear error."""
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if manager.get_plugin(entry_point.name) is not None or manager.is_blocked(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:
            dist = entry_point.dist.name if entry_point.dist else "an unknown distribution"
            raise ConfigurationError(
                f"the signers plugin {entry_point.name!r} from {dist} failed to load: {exc!r}",
                hint=f"reinstall or uninstall {dist}",
            ) from exc
        manager.register(plugin, name=entry_point.name)


def backends() -> dict[str, BackendInfo]:
    """Every registered URI scheme, by scheme."""
    global _backends
    manager = get_plugin_manager()
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


def load_signer(uri: str, *, chain_id: int | None = None, **options: Any) -> Signer:
    """A Signer for ``uri``; ``options`` go to the backend's factory (e.g. a boto3 session)."""
    parsed = parse(uri)
    info = backends().get(parsed.scheme)
    if info is None:
        # the scheme is not quoted (a secret pasted before a ':' would be echoed); the installed ones are listed
        installed = ", ".join(sorted(backends()))
        raise UnknownSchemeError(f"no installed backend handles this URI's scheme (installed: {installed})")
    return Signer(info.factory(parsed, **options), chain_id=chain_id, plugin_manager=get_plugin_manager())
