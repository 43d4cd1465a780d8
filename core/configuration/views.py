"""The tenant admin console's settings: branding (live preview), loan products and lending rules.

Each page saves a new version of its section, shows the versions with what
each changed, and restores an old one as a new version. Who may edit:

* ``settings.edit`` (tenant admins): branding and loan products;
* ``settings.rules`` (risk officers, and tenant admins): the lending rules —
  credit grades, limits and rate bands, the scorecard, refusals, the risk
  reserve. A risk officer owns the credit policy but not the site's offer.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core.accounts.access import requires
from core.accounts.roles import define_permission
from core.configuration import forms, service
from core.i18n import LOCALE_NAMES, current_locale
from core.tenancy.config import SUPPORTED_LOCALES

define_permission("settings.edit", ("tenant_admin",), "Change the site's branding and loan products")
define_permission("settings.rules", ("risk_officer",), "Change the lending rules: credit grades, scorecard, risk reserve")

settings = Blueprint("settings", __name__, url_prefix="/staff/settings")


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
            service.save_branding(tenant, new, site, actor=current_user, note=form.get("note", "").strip()[:500])
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
        service.rollback(g.tenant, "branding", number, actor=current_user)
    except service.ConfigurationError:
        abort(404)
    flash(_("Version %(number)d is in force again.", number=number), "success")
    return redirect(url_for("settings.branding"))


def _can(permission: str) -> bool:
    from core.accounts.access import current_principal

    user = current_principal()
    return bool(user) and user.can(permission)


def _can_edit() -> bool:
    return _can("settings.edit")


# Reached from the staff menu (staff/_layout.html), not from the site's menu.


# ---------------------------------------------------------------- products and rules


def _pack():
    from core.credit.compliance import tenant_pack

    return tenant_pack(g.tenant)


def _show(kind: str, value) -> str:
    """A value in the history, as a lender reads it."""
    from core.i18n import money

    if value is None or value == "" or value == {}:
        return "—"
    if kind == "money" and isinstance(value, int):
        return money(value, g.tenant.currency)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if kind == "percent":
        try:
            return f"{forms.percent_text(value)}%"
        except (ArithmeticError, ValueError):  # an old version's odd value is shown as stored
            return str(value)
    if isinstance(value, list):
        return ", ".join(str(forms.METHOD_LABELS.get(v, v)) for v in value)
    return str(value)


def _product_name(product: dict | None, code: str) -> str:
    from core.i18n import localized

    name = localized((product or {}).get("name")) if product else ""
    return f"{name} ({code})" if name else code


def _product_field_label(field: str, rest: list[str]) -> str:
    label = str(forms.PRODUCT_LABELS.get(field, field))
    if field == "name" and rest:
        return f"{label} · {LOCALE_NAMES.get(rest[0], rest[0])}"
    if field == "grade_rates" and rest:
        end = (_("lowest") if rest[1] == "min" else _("highest")) if len(rest) > 1 else ""
        return f"{label} · {rest[0]}" + (f" · {end}" if end else "")
    return label


def _rule_label(path: str) -> str:
    field = forms.rule_fields().get(path)
    parts = path.split(".")
    if parts[:2] == ["credit", "grades"] and len(parts) >= 3:
        grade = parts[2]
        return f"{_('Grade')} {grade}" + (f" · {field.label}" if field is not None else "")
    if field is not None:
        return str(field.label)
    if path == "credit.scorecard.weights":
        return _("Scorecard weights")
    return path


def _kind_of(section: str, path: str) -> str:
    if section == "products":
        parts = path.split(".")
        if len(parts) > 2 and parts[2] == "grade_rates":
            return "percent"
        field = forms.PRODUCT_FIELDS.get(parts[2]) if len(parts) > 2 else None
        return field.kind if field is not None else "text"
    field = forms.rule_fields().get(path)
    return field.kind if field is not None else "text"


def _readable(section: str, version, found) -> list[dict]:
    """A version's changes as ``{label, before, after}`` lines."""
    lines = []
    for change in found:
        if section == "products":
            parts = change.path.split(".")
            code = parts[1]
            if len(parts) == 2:
                added = change.before is None
                lines.append({"label": _product_name(change.after or change.before, code),
                              "before": "—" if added else _("offered"), "after": _("added") if added else _("removed")})
                continue
            product = next((p for p in ((version.data or {}).get("products") or []) if p["code"] == code), None)
            label = f"{_product_name(product, code)} · {_product_field_label(parts[2], parts[3:])}"
        elif section == "rules":
            label = _rule_label(change.path)
        else:
            label = change.path
        kind = _kind_of(section, change.path)
        lines.append({"label": label, "before": _show(kind, change.before), "after": _show(kind, change.after)})
    return lines


def _history(section: str) -> list[dict]:
    return [{"version": version, "changes": _readable(section, version, found)}
            for version, found in service.history_with_changes(g.tenant, section)]


def _problem_labels(section: str, problems: dict, raws=None) -> dict[str, str]:
    labels = {}
    for key in problems:
        parts = key.split(".")
        if key == "version":
            labels[key] = _("Versions")
        elif section == "products" and len(parts) >= 3 and parts[1].isdigit():
            index = int(parts[1])
            raw = raws[index] if raws and index < len(raws) else {}
            name = raw.get(f"name.{current_locale()}") or raw.get("code") or _("Product %(number)d", number=index + 1)
            labels[key] = f"{name} · {_product_field_label(parts[2], parts[3:])}"
        elif section == "rules":
            labels[key] = _rule_label(key)
        else:
            labels[key] = key
    return labels


def _render_products(raws, problems, status=200):
    pack = _pack()
    caps = {kind: next((c for c in pack.caps(kind) if c.scope == "platform"), None) for kind in forms.BORROWER_TYPES}
    return render_template(
        "configuration/products.html",
        products=raws,
        problems=problems,
        problem_labels=_problem_labels("products", problems, raws),
        groups=forms.PRODUCT_GROUPS,
        grades=forms.GRADES,
        methods=forms.METHOD_LABELS,
        borrower_labels=forms.BORROWER_LABELS,
        locales=g.tenant.locales,
        locale_names=LOCALE_NAMES,
        pack=pack,
        caps=caps,
        history=_history("products"),
        base=_form_base("products"),
    ), status


@settings.route("/products", methods=["GET", "POST"])
@requires("settings.edit")
def products():
    """The loan products: one fieldset per product; add, remove, save as a new version."""
    tenant = g.tenant
    if request.method == "GET":
        raws = [forms.product_raw(p, tenant.currency) for p in (tenant.config.get("products") or [])]
        return _render_products(raws, {})
    raws = forms.read_products(request.form)
    action = request.form.get("action", "save")
    if action == "add":
        raws.append(forms.product_raw(forms.blank_product(), tenant.currency))
        return _render_products(raws, {})
    if action.startswith("remove:"):
        index = action.partition(":")[2]
        if index.isdigit() and int(index) < len(raws):
            del raws[int(index)]
        flash(_("The product is removed from the form; save to make it so on the site."), "warning")
        return _render_products(raws, {})
    parsed, problems = forms.parse_products(raws, tenant.currency)
    try:
        version = service.save_section(tenant, "products", {"products": parsed}, actor=current_user,
                                       note=request.form.get("note", "").strip()[:500], problems=problems,
                                       base=_base())
    except service.ConfigurationError as exc:
        return _render_products(raws, exc.problems, 422)
    if version is None:
        flash(_("Nothing changed, so no new version was made."), "info")
    else:
        flash(_("Products saved as version %(number)d. The site offers them now.", number=version.number), "success")
    return redirect(url_for("settings.products"))


def _base() -> int | None:
    """The version the form was opened on (its hidden ``base`` field)."""
    base = request.form.get("base", "")
    return int(base) if base.isdigit() else None


def _form_base(section: str):
    """What the form's ``base`` field holds: the version in force when the page was first opened."""
    if request.method == "POST":
        return request.form.get("base", "")
    return service.latest_number(g.tenant, section)


def _rollback(section: str, number: int, endpoint: str):
    try:
        service.rollback(g.tenant, section, number, actor=current_user)
    except service.ConfigurationError as exc:
        if "version" in exc.problems:
            abort(404)
        labels = _problem_labels(section, exc.problems)
        flash(_("Version %(number)d breaks today's rules and was not restored: %(problems)s", number=number,
                problems="; ".join(f"{labels[k]}: {v}" for k, v in exc.problems.items())), "error")
        return redirect(url_for(endpoint))
    flash(_("Version %(number)d is in force again.", number=number), "success")
    return redirect(url_for(endpoint))


@settings.route("/products/rollback/<int:number>", methods=["POST"])
@requires("settings.edit")
def products_rollback(number):
    return _rollback("products", number, "settings.products")


def _render_rules(raw, problems, status=200):
    return render_template(
        "configuration/rules.html",
        raw=raw,
        problems=problems,
        problem_labels=_problem_labels("rules", problems),
        grades=forms.GRADES,
        grade_fields=forms.GRADE_FIELDS,
        factors=forms.FACTORS,
        fields=forms.rule_fields(),
        number_fields=forms.credit_number_fields(),
        pack=_pack(),
        history=_history("rules"),
        base=_form_base("rules"),
    ), status


@settings.route("/rules", methods=["GET", "POST"])
@requires("settings.rules")
def rules():
    """The lending rules: grades with limits and rate bands, scorecard, refusals, the risk reserve."""
    tenant = g.tenant
    current = service.section_value(tenant.config, "rules")
    if request.method == "GET":
        return _render_rules(forms.rules_raw(current, tenant.currency), {})
    raw = forms.read_rules(request.form)
    parsed, problems = forms.parse_rules(raw, current, tenant.currency)
    try:
        version = service.save_section(tenant, "rules", parsed, actor=current_user,
                                       note=request.form.get("note", "").strip()[:500], problems=problems,
                                       base=_base())
    except service.ConfigurationError as exc:
        return _render_rules(raw, exc.problems, 422)
    if version is None:
        flash(_("Nothing changed, so no new version was made."), "info")
    else:
        flash(_("Lending rules saved as version %(number)d. They apply now.", number=version.number), "success")
    return redirect(url_for("settings.rules"))


@settings.route("/rules/rollback/<int:number>", methods=["POST"])
@requires("settings.rules")
def rules_rollback(number):
    return _rollback("rules", number, "settings.rules")
