"""The operations manual and the admin guide, generated from a tenant's configuration.

``lendkit tenant manuals SLUG`` writes ``tenants/<slug>/manuals/`` with each
document as HTML and PDF (WeasyPrint), in the tenant's default locale. The
``delivered`` gate checks they exist.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from jinja2 import FileSystemLoader
from sqlalchemy import select

from core.delivery.models import StageChange
from core.delivery.stages import tenant_folder
from core.extensions import db
from core.plugins import provider_registry
from core.tenancy.config import PROVIDER_FAMILIES

DOCUMENTS = {
    "operations-manual": ("manuals/operations_manual.html", _l("Operations manual")),
    "admin-guide": ("manuals/admin_guide.html", _l("Admin guide")),
}
SECRET_WORDS = ("key", "secret", "password", "token", "pem")
FAMILY_LABELS = {"custody": _l("Custody bank"), "sms": _l("SMS gateway"), "credit_bureau": _l("Credit bureau")}


def _masked(key: str, value) -> str:
    if any(word in key.lower() for word in SECRET_WORDS):
        return "••••••"
    return str(value)


def _context(tenant) -> dict:
    registry = provider_registry()
    providers = []
    for family in PROVIDER_FAMILIES:
        label = str(FAMILY_LABELS[family])
        choice = tenant.config["providers"][family]
        provider = registry.get(family, {}).get(choice["name"])
        providers.append(
            {
                "label": label,
                "name": choice["name"],
                "title": getattr(provider, "title", "") if provider else "",
                "settings": [(k, _masked(k, v)) for k, v in sorted((choice.get("settings") or {}).items())],
            }
        )
    products = []
    for product in tenant.config.get("products") or []:
        name = product.get("name")
        if isinstance(name, dict):
            name = name.get(tenant.default_locale) or next(iter(name.values()), "")
        products.append(
            {
                "name": name or product.get("code", ""),
                "borrower_type": product.get("borrower_type", ""),
                "amount_range": f"{product.get('min_amount', '')} – {product.get('max_amount', '')}",
                "terms": ", ".join(str(t) for t in product.get("terms_months", [])),
                "methods": ", ".join(product.get("repayment_methods", [])),
            }
        )
    history = db.session.scalars(
        select(StageChange).where(StageChange.tenant_id == tenant.id).order_by(StageChange.at, StageChange.id)
    ).all()
    host = tenant.primary_host or f"{tenant.slug}.localhost"
    return {
        "tenant": tenant,
        "providers": providers,
        "products": products,
        "history": history,
        "backup_target": current_app.config.get("LENDKIT_BACKUP_TARGET", ""),
        "generated_on": date.today().isoformat(),
        "site_url": f"https://{host}",
        "locale": tenant.default_locale,
    }


def generate_manuals(tenant) -> list[Path]:
    """Write both documents as HTML and PDF; returns the files written."""
    from weasyprint import HTML

    env = current_app.jinja_env.overlay(loader=FileSystemLoader(str(Path(__file__).parent / "templates")))
    folder = tenant_folder(tenant) / "manuals"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with force_locale(tenant.default_locale):
        context = _context(tenant)
        for name, (template, title) in DOCUMENTS.items():
            html = env.get_template(template).render(title=str(title), **context)
            html_path = folder / f"{name}.html"
            html_path.write_text(html, encoding="utf-8")
            pdf_path = folder / f"{name}.pdf"
            HTML(string=html, base_url=str(folder)).write_pdf(str(pdf_path))
            written += [html_path, pdf_path]
    return written
