"""Locale choice and locale-aware formatting of money, rates and dates.

The locale is the user's choice (kept in the session), else the tenant's
default. Amounts arrive as integers in minor units and are formatted by Babel
for the locale, never through a float.
"""
from __future__ import annotations

from decimal import Decimal

import re
from functools import cached_property
from pathlib import Path

from babel import Locale, support
from flask import Blueprint, current_app, g, has_app_context, has_request_context, redirect, request, session, url_for
from markupsafe import Markup
from flask_babel import Babel, Domain, format_date, format_datetime, format_decimal, format_percent, get_babel, get_locale
from babel.numbers import format_currency

from core.money import from_minor
from core.tenancy.config import SUPPORTED_LOCALES

LOCALE_NAMES = {"en": "English", "zh_CN": "简体中文"}


def select_locale() -> str:
    tenant = g.get("tenant")
    if not has_request_context():  # CLI and jobs: the tenant's language, else English
        return tenant.default_locale if tenant is not None else "en"
    allowed = tenant.locales if tenant is not None else list(SUPPORTED_LOCALES)
    chosen = session.get("locale")
    if chosen in allowed:
        return chosen
    if tenant is not None:
        return tenant.default_locale
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or "en"


def select_timezone() -> str:
    tenant = g.get("tenant")
    return tenant.config.get("timezone", "UTC") if tenant is not None else "UTC"


def catalog_name(locale: Locale) -> str:
    """``zh_Hans_CN`` → ``zh_CN``: the name lendkit's catalogs and settings use."""
    return f"{locale.language}_{locale.territory}" if locale.territory else locale.language


def current_locale() -> str:
    """``en`` or ``zh_CN``: the locale this page is rendered in."""
    locale = get_locale()
    return catalog_name(locale) if locale is not None else "en"


class TenantDomain(Domain):
    """Translations: lendkit's catalogs, then the bound tenant's own overrides on top.

    A tenant may ship ``tenants/<slug>/translations/<locale>/LC_MESSAGES/messages.mo``
    to reword any string for its site. Catalogs are looked up by the
    ``zh_CN``-style name whatever script Babel infers (``zh_Hans_CN``).
    """

    #: Every TenantDomain, so a recompiled tenant catalog can be dropped from their caches.
    _instances: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        TenantDomain._instances.append(self)

    @classmethod
    def forget(cls, slug: str) -> None:
        for domain in cls._instances:
            for key in [k for k in domain.cache if k[1] == slug]:
                domain.cache.pop(key, None)

    def get_translations(self):
        if not has_app_context():
            return support.NullTranslations()
        locale = get_locale()
        tenant = g.get("tenant")
        key = (catalog_name(locale), tenant.slug if tenant is not None else "")
        try:
            return self.cache[key]
        except KeyError:
            pass
        directories = list(get_babel().translation_directories)
        if tenant is not None:
            directories.append(str(Path(current_app.config["LENDKIT_TENANTS_DIR"]) / tenant.slug / "translations"))
        translations = support.Translations()
        for dirname in directories:
            catalog = support.Translations.load(dirname, [key[0]], self.domain[0])
            translations.merge(catalog)
            # a missing catalog loads as NullTranslations, whose plural rule is English's (n != 1): taking it
            # would make every zh_CN ngettext() with n != 1 look up a second form zh_CN does not have
            if isinstance(catalog, support.Translations):
                translations.plural = catalog.plural
        self.cache[key] = translations
        return translations


def compile_tenant_catalogs(folder: Path) -> None:
    """Compile ``folder/translations/*/LC_MESSAGES/messages.po`` where the ``.mo`` is missing or older."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted((folder / "translations").glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        with mo.open("wb") as fh:
            write_mo(fh, catalog)
    TenantDomain.forget(folder.name)


class LendkitBabel(Babel):
    @cached_property
    def domain_instance(self):
        return TenantDomain(domain=self.domain)


def current_locale_tag() -> str:
    """The BCP 47 tag for ``<html lang>``: ``zh-CN``."""
    return current_locale().replace("_", "-")


def localized(texts: dict | None) -> str:
    """Pick the current locale's text from ``{locale: text}``, else the tenant's default, else any."""
    if not texts:
        return ""
    locale = current_locale()
    tenant = g.get("tenant")
    for key in (locale, tenant.default_locale if tenant is not None else None):
        if key and texts.get(key):
            return texts[key]
    return next(iter(texts.values()), "")


def money(amount: int, currency: str | None = None) -> str:
    """``1234567`` fen → ``¥12,345.67`` (zh_CN) / ``CN¥12,345.67`` (en)."""
    if currency is None:
        currency = g.tenant.currency
    return format_currency(from_minor(int(amount), currency), currency, locale=get_locale())


def percent(rate, digits: int = 2) -> str:
    """``Decimal("0.0825")`` → ``8.25%``."""
    return format_percent(Decimal(str(rate)), format="#,##0." + "0" * digits + "%") if digits else format_percent(Decimal(str(rate)))


def css_value(value) -> Markup:
    """A branding value for a ``<style>`` block: validated at load, stripped of anything that could end the rule."""
    return Markup(re.sub(r"[<>{};\\]", "", str(value)))


def install(app) -> None:
    app.jinja_env.filters.update(
        css=css_value,
        money=money,
        percent=percent,
        number=format_decimal,
        date=format_date,
        datetime=format_datetime,
    )


locale_blp = Blueprint("locale", __name__)


@locale_blp.route("/locale/<code>")
def choose_locale(code):
    """Remember the visitor's locale choice and go back where they were."""
    if code in SUPPORTED_LOCALES:
        session["locale"] = code
    target = request.referrer or url_for("site.home")
    if not target.startswith(request.host_url):
        target = url_for("site.home")
    return redirect(target)
