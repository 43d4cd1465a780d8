"""Themes and the template lookup chain: tenant override → tenant's theme → ``default``.

* ``tenants/<slug>/templates/`` overrides any template for one tenant.
* ``themes/<name>/templates/`` is the tenant's theme; what it lacks comes from
  ``themes/default/templates/``. A template may extend the default one it
  replaces with ``{% extends "default:base.html" %}``.
* Static files follow the same chain under ``/_static/``; a tenant's own
  files (logo) are served under ``/_brand/``.
* Jinja caches compiled templates per tenant, so one tenant's page is never
  served from another tenant's cache entry.

This module is also a built-in plugin: it registers every folder under
``themes/`` through the ``register_themes`` hook.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path

from flask import Blueprint, abort, current_app, g, has_app_context, send_from_directory, url_for
from flask.templating import Environment
from jinja2 import BaseLoader, TemplateNotFound
from jinja2.loaders import split_template_path

from core import hookimpl

DEFAULT_THEME = "default"
DEFAULT_PREFIX = "default:"


@hookimpl
def register_themes():
    themes_dir = Path(current_app.config["LENDKIT_THEMES_DIR"])
    if not themes_dir.is_dir():
        return {}
    return {p.name: str(p) for p in sorted(themes_dir.iterdir()) if (p / "templates").is_dir()}


def registered_themes(app) -> dict[str, Path]:
    from core.plugins import get_plugin_manager

    themes: dict[str, Path] = {}
    with app.app_context():
        for result in get_plugin_manager().hook.register_themes():
            themes.update({name: Path(folder) for name, folder in (result or {}).items()})
    if DEFAULT_THEME not in themes:
        raise RuntimeError("no 'default' theme is registered; lendkit needs themes/default")
    return themes


def _bound_tenant():
    return g.get("tenant") if has_app_context() else None


def theme_chain(app, tenant, part: str) -> list[Path]:
    """Folders to search for ``part`` (``templates`` or ``static``), most specific first."""
    themes: dict[str, Path] = app.extensions["lendkit_themes"]
    chain: list[Path] = []
    if tenant is not None:
        chain.append(Path(app.config["LENDKIT_TENANTS_DIR"]) / tenant.slug / part)
        if tenant.theme != DEFAULT_THEME and tenant.theme in themes:
            chain.append(themes[tenant.theme] / part)
    chain.append(themes[DEFAULT_THEME] / part)
    return chain


class ThemeLoader(BaseLoader):
    """Finds templates along the bound tenant's chain; ``default:`` skips to the default theme."""

    def __init__(self, app):
        self.app = app

    def _search_path(self, template: str) -> tuple[list[Path], str]:
        if template.startswith(DEFAULT_PREFIX):
            themes = self.app.extensions["lendkit_themes"]
            return [themes[DEFAULT_THEME] / "templates"], template[len(DEFAULT_PREFIX):]
        return theme_chain(self.app, _bound_tenant(), "templates"), template

    def get_source(self, environment, template):
        folders, name = self._search_path(template)
        pieces = split_template_path(name)
        for folder in folders:
            path = folder.joinpath(*pieces)
            if path.is_file():
                mtime = path.stat().st_mtime
                source = path.read_text(encoding="utf-8")
                return source, str(path), lambda: path.is_file() and path.stat().st_mtime == mtime
        raise TemplateNotFound(template)

    def list_templates(self):
        found = set()
        for folder in theme_chain(self.app, _bound_tenant(), "templates"):
            for dirpath, _dirs, files in os.walk(folder):
                for filename in files:
                    rel = Path(dirpath, filename).relative_to(folder)
                    found.add(rel.as_posix())
        return sorted(found)


class TenantEnvironment(Environment):
    """Flask's Jinja environment with the bound tenant in the template cache key."""

    def _load_template(self, name, globals):
        tenant = _bound_tenant()
        scope = "" if name.startswith(DEFAULT_PREFIX) or tenant is None else tenant.slug
        cache_key = (weakref.ref(self.loader), scope, name)
        if self.cache is not None:
            template = self.cache.get(cache_key)
            if template is not None and (not self.auto_reload or template.is_up_to_date):
                if globals:
                    template.globals.update(globals)
                return template
        template = self.loader.load(self, name, self.make_globals(globals))
        if self.cache is not None:
            self.cache[cache_key] = template
        return template


assets = Blueprint("assets", __name__)


@assets.route("/_static/<path:filename>")
def theme_static(filename):
    """A theme's static file, along the bound tenant's chain."""
    for folder in theme_chain(current_app, _bound_tenant(), "static"):
        if (folder / filename).is_file():
            return send_from_directory(folder, filename, max_age=3600)
    abort(404)


@assets.route("/_brand/<path:filename>")
def brand_file(filename):
    """The bound tenant's own files: ``tenants/<slug>/static/…``, or ``upload/<sha>.<ext>`` saved in the console."""
    tenant = _bound_tenant()
    if tenant is None:
        abort(404)
    if filename.startswith("upload/"):
        from core.configuration.service import logo_asset

        sha = filename[len("upload/"):].split(".")[0]
        asset = logo_asset(sha) if len(sha) == 64 else None
        if asset is None:
            abort(404)
        response = current_app.response_class(asset.content, mimetype=asset.content_type)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # the name is the content's digest
        return response
    folder = Path(current_app.config["LENDKIT_TENANTS_DIR"]) / tenant.slug / "static"
    return send_from_directory(folder, filename, max_age=3600)


def logo_url(tenant) -> str:
    """URL of the tenant's current logo, wherever it is kept."""
    logo = tenant.branding["logo"]
    return url_for("assets.brand_file", filename=logo[len("static/"):] if logo.startswith("static/") else logo)
