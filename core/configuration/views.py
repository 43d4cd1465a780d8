"""The branding editor of the tenant admin console: live preview, versions, rollback."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core.accounts.access import requires
from core.accounts.roles import define_permission
from core.configuration import service
from core.i18n import LOCALE_NAMES
from core.tenancy.config import SUPPORTED_LOCALES
from core.web.nav import nav_item

define_permission("settings.edit", ("tenant_admin",), "Change the site's branding, products and rules")

settings = Blueprint("settings", __name__, url_prefix="/staff/settings")


def _actor() -> str:
    return current_user.audit_label


def _form_values(tenant) -> dict:
    branding = dict(tenant.branding)
    for key in ("hero_title", "tagline"):
        branding[key] = dict(branding.get(key) or {})
    return {"branding": branding, "name": tenant.name, "default_locale": tenant.default_locale}


@settings.route("/branding", methods=["GET", "POST"])
@requires("settings.edit")
def branding():
    tenant = g.tenant
    values = _form_values(tenant)
    problems: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        new = {
            "primary_color": form.get("primary_color", ""),
            "accent_color": form.get("accent_color", ""),
            "background_color": form.get("background_color", ""),
            "text_color": form.get("text_color", ""),
            "font_family": form.get("font_family", "").strip(),
            "logo": tenant.branding["logo"],
            "hero_title": {loc: form.get(f"hero_title_{loc}", "").strip() for loc in SUPPORTED_LOCALES if form.get(f"hero_title_{loc}", "").strip()},
            "tagline": {loc: form.get(f"tagline_{loc}", "").strip() for loc in SUPPORTED_LOCALES if form.get(f"tagline_{loc}", "").strip()},
        }
        site = {"name": form.get("name", ""), "default_locale": form.get("default_locale", "")}
        upload = request.files.get("logo")
        try:
            if upload is not None and upload.filename:
                new["logo"] = service.store_logo(tenant, upload.read())
            service.save_branding(tenant, new, site, actor=_actor(), note=form.get("note", "").strip()[:500])
        except service.ConfigurationError as exc:
            problems = exc.problems
            values = {"branding": new, "name": site["name"], "default_locale": site["default_locale"]}
            flash(_("Nothing was saved: please correct the highlighted fields."), "error")
        else:
            flash(_("Branding saved. Every page shows it now."), "success")
            return redirect(url_for("settings.branding"))
    return render_template(
        "configuration/branding.html",
        values=values,
        problems=problems,
        history=service.history(tenant, "branding"),
        locales=SUPPORTED_LOCALES,
        locale_names=LOCALE_NAMES,
    ), (422 if problems else 200)


@settings.route("/branding/rollback/<int:number>", methods=["POST"])
@requires("settings.edit")
def rollback(number):
    try:
        service.rollback(g.tenant, "branding", number, actor=_actor())
    except service.ConfigurationError:
        abort(404)
    flash(_("Version %(number)d is in force again.", number=number), "success")
    return redirect(url_for("settings.branding"))


def _can_edit() -> bool:
    from core.accounts.access import current_principal

    user = current_principal()
    return bool(user) and user.can("settings.edit")


nav_item("settings.branding", _l("Branding"), order=80, when=_can_edit, active_prefix="settings.")
