"""The plugin manager: built-in plugins and installed ones, registered alike.

* ``DEFAULT_PLUGINS`` are the core's own hook implementations.
* Installed distributions register under the entry-point group ``lendkit``;
  the bundled ``plugins/`` packages do so exactly as a third party would.
* ``LENDKIT_PLUGINS=name,name`` limits which entry points load (by entry-point
  name); ``LENDKIT_TRACE_PLUGINS=1`` logs every hook call.
"""
from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points
from pathlib import Path

import pluggy

from core import hookspecs

log = logging.getLogger("lendkit.plugins")

DEFAULT_PLUGINS = ("core.themes", "core.credit.packs", "core.credit.cli", "core.vendor.cli", "core.lending.cli", "core.ledger.cli")

#: Hook name per provider family, as used in ``tenant.yaml`` under ``providers``.
PROVIDER_HOOKS = {
    "custody": "register_custody_banks",
    "sms": "register_sms_providers",
    "credit_bureau": "register_credit_bureaus",
}

_pm: pluggy.PluginManager | None = None
#: Entry-point name → the distribution that installed it.
_distributions: dict = {}


def _make_manager(allowed: set[str] | None) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("lendkit")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    for ep in entry_points(group="lendkit"):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        pm.register(ep.load(), name=ep.name)
        _distributions[ep.name] = ep.dist
    if os.environ.get("LENDKIT_TRACE_PLUGINS"):
        pm.trace.root.setwriter(log.info)
        pm.enable_tracing()
    return pm


def get_plugin_manager() -> pluggy.PluginManager:
    """The one plugin manager of this process."""
    global _pm
    if _pm is None:
        allowed = os.environ.get("LENDKIT_PLUGINS", "")
        names = {n.strip() for n in allowed.split(",") if n.strip()} or None
        _pm = _make_manager(names)
    return _pm


def provider_registry() -> dict[str, dict[str, type]]:
    """``{family: {name: provider class}}`` over every plugin; a duplicate name is an error."""
    pm = get_plugin_manager()
    registry: dict[str, dict[str, type]] = {}
    for family, hook_name in PROVIDER_HOOKS.items():
        found: dict[str, type] = {}
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            for name, factory in (impl.function() or {}).items():
                if name in found:
                    raise RuntimeError(f"{family} provider {name!r} registered twice (plugin {impl.plugin_name})")
                found[name] = factory
        registry[family] = found
    return registry


def plugin_summary() -> list[dict]:
    """Each plugin with its distribution and the providers it registers (for ``lendkit plugins``)."""
    pm = get_plugin_manager()
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        dist = _distributions.get(name)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        providers = {}
        for family, hook_name in PROVIDER_HOOKS.items():
            if hasattr(plugin, hook_name):
                providers[family] = sorted(getattr(plugin, hook_name)() or {})
        rows.append(
            {
                "name": name,
                "distribution": f"{dist.metadata['name']} {dist.version}" if dist else "built in",
                "hooks": hooks,
                "providers": providers,
            }
        )
    return rows


def instance_file(path: str) -> str:
    """Where a provider's local file goes: a path under ``instance/`` (the default of the sandbox bank's
    database and the SMS outbox) lives in the application's instance folder (``LENDKIT_INSTANCE_PATH``),
    not in whatever directory the process was started from. Other paths are left as given."""
    from flask import current_app, has_app_context

    if path.startswith("instance/") and has_app_context():
        return str(Path(current_app.instance_path) / path[len("instance/"):])
    return path
