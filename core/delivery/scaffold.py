"""``lendkit tenant new --from requirements.yaml``: a branded demo site in one command.

The questionnaire is checked in full first; only then is ``tenants/<slug>/``
rendered from the cookiecutter template in ``scaffolding/tenant/``, validated
as any tenant folder is, loaded into the database and seeded. A failure after
rendering removes the half-made folder, so a retry starts clean.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from cookiecutter.main import cookiecutter
from flask import current_app
from sqlalchemy import select

from core.delivery.requirements import check_requirements
from core.extensions import db
from core.plugins import provider_registry
from core.tenancy.config import load_tenant_folder, tenant_folders
from core.tenancy.models import TenantHost

SCAFFOLDING = Path(__file__).resolve().parents[2] / "scaffolding"
TEMPLATE = SCAFFOLDING / "tenant"
PLUGIN_FAMILIES = ("sms", "custody", "credit_bureau")


@dataclass
class NewTenant:
    slug: str
    folder: Path
    hosts: list[str]


def taken_hosts(tenants_dir: Path) -> dict[str, str]:
    """Every host already claimed, by a tenant folder or the database: host → slug."""
    owners: dict[str, str] = {}
    for folder in tenant_folders(tenants_dir):
        data = yaml.safe_load((folder / "tenant.yaml").read_text(encoding="utf-8")) or {}
        for host in data.get("hosts") or []:
            owners[str(host).lower()] = folder.name
    for host in db.session.scalars(select(TenantHost)):
        owners.setdefault(host.host, host.tenant.slug)
    return owners


def render_tenant(requirements: dict, source: Path, tenants_dir: Path) -> Path:
    """Render ``tenants_dir/<slug>/`` from checked ``requirements``; returns the folder."""
    slug = requirements["client"]["slug"]
    logo = requirements["brand"]["logo"]
    context = dict(requirements)
    context["brand"] = dict(requirements["brand"], logo_file="logo" + (Path(logo).suffix.lower() if logo else ".svg"))
    tenants_dir.mkdir(parents=True, exist_ok=True)
    extra = {"slug": slug, "rendered_on": date.today().isoformat(), "q": context}
    cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(tenants_dir), default_config=True, extra_context=extra)
    folder = tenants_dir / slug
    _render_missed_files(folder, extra)
    if logo:
        (folder / "static" / "logo.svg").unlink()
        shutil.copyfile(source.parent / logo, folder / "static" / context["brand"]["logo_file"])
    shutil.copyfile(source, folder / "requirements.yaml")
    return folder


def _render_missed_files(folder: Path, context: dict) -> None:
    """Render text files cookiecutter copied verbatim.

    cookiecutter skips files it guesses are binary, and its guess (binaryornot)
    takes some mostly-Chinese text for binary. Every file of the template is
    text, so whatever still holds a ``cookiecutter.`` placeholder is rendered here.
    """
    import json

    from jinja2 import Environment, StrictUndefined

    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters["y"] = lambda value: json.dumps(value, ensure_ascii=False)
    for path in folder.rglob("*"):
        if not path.is_file() or path.suffix in {".png", ".mo"}:
            continue
        text = path.read_text(encoding="utf-8")
        if "cookiecutter." in text:
            path.write_text(env.from_string(text).render(cookiecutter=context), encoding="utf-8")


def new_tenant(source: Path) -> NewTenant:
    """Check the questionnaire, render the folder, load and seed the tenant (notices, demo listings)."""
    from core.delivery.demo import seed_tenant
    from core.tenancy import tenant_context
    from core.tenancy.sync import sync_tenants
    from core.tenancy.models import Tenant

    tenants_dir = Path(current_app.config["LENDKIT_TENANTS_DIR"])
    registry = provider_registry()
    requirements = check_requirements(source, tenants_dir, registry, taken_hosts(tenants_dir))
    folder = render_tenant(requirements, source, tenants_dir)
    slug = requirements["client"]["slug"]
    try:
        load_tenant_folder(folder, registry)  # the rendered file must be as valid as a hand-written one
        sync_tenants(tenants_dir, only=slug)
        tenant = Tenant.by_slug(slug)
        hosts = [h.host for h in tenant.hosts]
        with tenant_context(tenant):
            seed_tenant(tenant)
    except Exception:
        db.session.rollback()
        shutil.rmtree(folder, ignore_errors=True)
        half_made = Tenant.by_slug(slug)
        if half_made is not None:  # loaded, then failed (seeding): nothing of it stays
            from core.delivery.offboarding import delete_tenant

            delete_tenant(half_made)
        raise
    return NewTenant(slug=slug, folder=folder, hosts=hosts)


def new_plugin(family: str, name: str, title: str, output: Path) -> Path:
    """Render a provider plugin package ``lendkit-<name>`` with its tests under ``output``."""
    import re

    if family not in PLUGIN_FAMILIES:
        raise ValueError(f"family must be one of {', '.join(PLUGIN_FAMILIES)}, not {family!r}")
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,40}", name):
        raise ValueError(f"name must be lower-case letters, digits and hyphens, starting with a letter, not {name!r}")
    target = output / f"lendkit-{name}"
    if target.exists():
        raise ValueError(f"{target} already exists")
    output.mkdir(parents=True, exist_ok=True)
    cookiecutter(
        str(SCAFFOLDING / "plugin"),
        no_input=True,
        output_dir=str(output),
        default_config=True,
        extra_context={"provider_name": name, "title": title or name, "family": family},
    )
    return target
