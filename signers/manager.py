"""The plugin manager: entry-point group "signers", built-in plugins loaded through the same path.

A backend plugin that also declares its scheme in the "signers.schemes" group (``pkcs11 = "signers_pkcs11"``:
the scheme, and the module its "signers" entry point names) is imported only when a URI of that scheme is
loaded, or when every backend is listed: ``load_signer("pkcs11:...")`` never imports boto3. Every other
plugin (policies, metrics, a third-party backend that declares nothing) is loaded when the manager starts, as
before: a policy must never be skipped because its module was not imported.
"""

from __future__ import annotations

import importlib
import threading
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import ConfigurationError

ENTRY_POINT_GROUP = "signers"
SCHEME_GROUP = "signers.schemes"
# The core's own plugins are also declared as entry points in pyproject.toml; this list only makes a
# source checkout that was never pip-installed work the same way. "local" is deferred like any scheme plugin.
BUILTIN_PLUGINS = {
    "aa-scope": "signers.session_scope:SCOPE_CHECK",
    "audit-environment": "signers.audit.environment:plugin",
}
BUILTIN_SCHEMES = {"local": ("local", "signers.local")}

_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_deferred: dict[str, metadata.EntryPoint | tuple[str, str]] | None = None  # plugin name -> not yet loaded
_schemes: dict[str, str] = {}  # scheme -> the deferred plugin's name


def get_plugin_manager() -> pluggy.PluginManager:
    global _manager
    with _lock:
        if _manager is None:
            manager = pluggy.PluginManager("signers")
            manager.add_hookspecs(hookspecs)
            _load_entry_points(manager)
            for name, target in BUILTIN_PLUGINS.items():
                if manager.get_plugin(name) is None and not manager.is_blocked(name):
                    _register(manager, name, _import(target))
            _manager = manager
        return _manager


def _import(target: str) -> Any:
    module, _, attribute = target.partition(":")
    plugin = importlib.import_module(module)
    return getattr(plugin, attribute) if attribute else plugin


def _register(manager: pluggy.PluginManager, name: str, plugin: Any) -> None:
    """Register ``plugin``; a function marked ``plugin_factory`` is called first (None registers nothing)."""
    if getattr(plugin, "signers_plugin_factory", False):
        plugin = plugin()
        if plugin is None:
            return
    manager.register(plugin, name=name)


def _scheme_owners() -> dict[str, str]:
    """scheme -> the module of the "signers" entry point that registers it, from the "signers.schemes" group."""
    owners = {scheme: module for scheme, (_, module) in BUILTIN_SCHEMES.items()}
    for entry_point in metadata.entry_points(group=SCHEME_GROUP):
        owners.setdefault(entry_point.name, entry_point.value)
    return owners


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    """Like pluggy's load_setuptools_entrypoints, but a broken plugin is named in a clear error, and a plugin
    that owns declared schemes is remembered, not imported."""
    global _deferred
    owners = _scheme_owners()
    deferred_modules = set(owners.values())
    deferred: dict[str, metadata.EntryPoint | tuple[str, str]] = {}
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if manager.get_plugin(entry_point.name) is not None or manager.is_blocked(entry_point.name):
            continue
        if entry_point.value in deferred_modules:
            deferred[entry_point.name] = entry_point
            continue
        _register(manager, entry_point.name, _load(entry_point))
    for name, (_, module) in BUILTIN_SCHEMES.items():
        deferred.setdefault(name, (name, module))  # a source checkout without entry points
    by_module = {_module_of(target): name for name, target in deferred.items()}
    _schemes.clear()
    _schemes.update({scheme: by_module[module] for scheme, module in owners.items() if module in by_module})
    _deferred = deferred


def _module_of(target: metadata.EntryPoint | tuple[str, str]) -> str:
    return target[1] if isinstance(target, tuple) else target.value


def _load(entry_point: metadata.EntryPoint) -> Any:
    try:
        return entry_point.load()
    except Exception as exc:
        dist = entry_point.dist.name if entry_point.dist else "an unknown distribution"
        raise ConfigurationError(
            f"the signers plugin {entry_point.name!r} from {dist} failed to load: {exc!r}",
            hint=f"reinstall or uninstall {dist}",
        ) from exc


def load_deferred(names: list[str] | None = None) -> bool:
    """Import and register deferred scheme plugins by plugin name (all of them for None); True if any was."""
    manager = get_plugin_manager()
    loaded = False
    with _lock:
        deferred = _deferred if _deferred is not None else {}  # set by get_plugin_manager above
        for name in list(deferred) if names is None else names:
            target = deferred.pop(name, None)
            if target is None or manager.get_plugin(name) is not None or manager.is_blocked(name):
                continue
            plugin = _import(target[1]) if isinstance(target, tuple) else _load(target)
            _register(manager, name, plugin)
            loaded = True
    return loaded


def deferred_plugin(scheme: str) -> str | None:
    """The name of the not yet imported plugin that declares ``scheme``, if any."""
    get_plugin_manager()
    with _lock:
        name = _schemes.get(scheme)
        return name if name is not None and _deferred is not None and name in _deferred else None
