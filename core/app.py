"""The application factory, in one readable order.

config → extensions → templates and themes → database → Babel → API →
request hooks (tenant binding) → blueprints → plugins' template context → CLI.
"""
from __future__ import annotations

import gc
import importlib
from pathlib import Path

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from core.config import load_config
from core.extensions import babel, csrf, db, limiter


class LendkitFlask(Flask):
    """Flask with the tenant-aware template loader and cache."""

    from core.themes import TenantEnvironment as jinja_environment  # noqa: N813

    def create_global_jinja_loader(self):
        from core.themes import ThemeLoader

        return ThemeLoader(self)


def create_app(config: dict | None = None) -> Flask:
    """Build the lendkit WSGI application; ``config`` overrides environment settings."""
    settings = load_config(config)
    app = LendkitFlask(
        "lendkit", instance_path=settings["LENDKIT_INSTANCE_PATH"], static_folder=None, template_folder=None
    )
    app.config.update(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_extensions(app)
    register_themes(app)
    register_request_hooks(app)
    register_blueprints(app)
    register_template_context(app)
    return app


def freeze_heap() -> None:
    """Take every object alive now out of the garbage collector's reach (``gc.freeze()``), once the app is built.

    A serving process (``core.wsgi`` under gunicorn, a Celery worker) calls it
    after building its app. The app's long-lived objects (modules, models,
    templates, plugins: a few hundred thousand) otherwise get walked by every
    full collection, and Python starts one in the middle of whatever request
    allocated the most: measured on a 10,000-line repayment entry, 95 ms of its
    134 ms of Python. Not called by ``create_app`` itself: a test process builds
    many apps, whose garbage must stay collectable.
    """
    gc.collect()
    gc.freeze()


def register_extensions(app: Flask) -> None:
    from core import models  # noqa: F401  (every model, so metadata is complete)
    from core.i18n import install as install_i18n, select_locale, select_timezone

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    install_i18n(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["LENDKIT_REDIS_URL"] or "memory://")
    limiter.init_app(app)
    from core.accounts import install as install_accounts  # Flask-Login, session checks, staff/audit CLI

    install_accounts(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, wait for locks instead of failing, write-ahead log."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL keeps the database consistent; commits skip an fsync
        cursor.close()


def register_themes(app: Flask) -> None:
    from core.themes import registered_themes

    app.extensions["lendkit_themes"] = registered_themes(app)


def register_request_hooks(app: Flask) -> None:
    from core.tenancy.resolve import bind_request_tenant, unbind_request_tenant

    app.before_request(bind_request_tenant)
    app.teardown_request(unbind_request_tenant)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response


#: Page blueprints, as "module:attribute". A domain module adds its line here.
WEB_BLUEPRINTS = (
    "core.api.health:health",
    "core.themes:assets",
    "core.i18n:locale_blp",
    "core.web:site",
    "core.vendor.views:vendor",
    "core.configuration.views:settings",
    "core.credit.views:pages",
    "core.credit.summary_views:pages",
    "core.wallet.views:pages",
    "core.custody.views:finance",
    "core.accounts.views:accounts",
    "core.accounts.legal:legal",
    "core.accounts.staff_views:staff",
    "core.lending.views:pages",
)

#: API blueprints (flask-smorest), mounted under /api/v1 and exempt from CSRF.
API_BLUEPRINTS = (
    "core.notices.resources:blp",
    "core.credit.resources:blp",
    "core.credit.summary_views:blp",
    "core.wallet.views:blp",
    "core.accounts.resources:auth_blp",
    "core.accounts.resources:me_blp",
    "core.accounts.staff_resources:blp",
    "core.lending.resources:blp",
    "core.custody.resources:blp",
)


def _load(target: str):
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def register_blueprints(app: Flask) -> None:
    from core.api import api

    api.init_app(app)
    for target in API_BLUEPRINTS:
        blueprint = _load(target)
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    for target in WEB_BLUEPRINTS:
        app.register_blueprint(_load(target))


def register_template_context(app: Flask) -> None:
    from core.i18n import LOCALE_NAMES, current_locale, current_locale_tag, localized
    from core.plugins import get_plugin_manager
    from core.web.nav import visible_nav_items

    pm = get_plugin_manager()
    from core.themes import logo_url

    app.jinja_env.globals.update(
        current_locale=current_locale, current_locale_tag=current_locale_tag, localized=localized, logo_url=logo_url
    )

    @app.context_processor
    def _lendkit_context():
        tenant = g.get("tenant")
        context = {"tenant": tenant, "locale_names": LOCALE_NAMES, "nav_items": visible_nav_items()}
        for extra in pm.hook.template_context(tenant=tenant, request=request):
            if extra:
                context.update(extra)
        return context
