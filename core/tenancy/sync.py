"""Load ``tenants/*/tenant.yaml`` into the database (``lendkit tenant sync``).

Every file is validated before anything is written; one invalid file stops
the whole sync with nothing changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.plugins import get_plugin_manager, provider_registry
from core.tenancy.config import LoadedTenant, TenantConfigError, load_tenant_folder, tenant_folders
from core.tenancy.models import Tenant, TenantHost


@dataclass
class SyncResult:
    slug: str
    action: str  # "created", "updated" or "unchanged"


def load_all(tenants_dir: Path) -> list[LoadedTenant]:
    """Validate every tenant folder; raise the first :class:`TenantConfigError`."""
    from core.i18n import compile_tenant_catalogs

    registry = provider_registry()
    loaded = [load_tenant_folder(folder, registry) for folder in tenant_folders(tenants_dir)]
    for item in loaded:
        compile_tenant_catalogs(item.folder)
    owners: dict[str, str] = {}
    for item in loaded:
        for host in item.config["hosts"]:
            if host in owners:
                raise TenantConfigError(
                    item.folder / "tenant.yaml",
                    {"hosts": f"{host} is already a host of tenant {owners[host]!r}"},
                )
            owners[host] = item.config["slug"]
    return loaded


def tenant_hosts(config: dict) -> list[str]:
    hosts = list(config["hosts"])
    if current_app.config["LENDKIT_LOCALHOST_HOSTS"]:
        local = f"{config['slug']}.localhost"
        if local not in hosts:
            hosts.append(local)
    return hosts


def sync_tenants(tenants_dir: Path | None = None, only: str | None = None) -> list[SyncResult]:
    """Create or refresh the tenants found under ``tenants_dir``; one transaction."""
    tenants_dir = Path(tenants_dir or current_app.config["LENDKIT_TENANTS_DIR"])
    loaded = load_all(tenants_dir)
    if only is not None:
        loaded = [item for item in loaded if item.config["slug"] == only]
        if not loaded:
            raise TenantConfigError(tenants_dir / only / "tenant.yaml", {"(file)": "not found"})
    hook = get_plugin_manager().hook
    results = []
    try:
        for item in loaded:
            results.append(_upsert(item, hook))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return results


def _upsert(item: LoadedTenant, hook) -> SyncResult:
    config = item.config
    # the row as stored now, even if this session holds it already (core.kept keeps it across commits)
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == config["slug"])
                               .execution_options(populate_existing=True))
    created = tenant is None
    if created:
        tenant = Tenant(slug=config["slug"], stage="requirements")
        db.session.add(tenant)
    elif tenant.config_digest == item.digest and _hosts(tenant) == set(tenant_hosts(config)):
        return SyncResult(config["slug"], "unchanged")
    from core.configuration.service import apply_overrides

    effective = apply_overrides(tenant, config)  # the admin console's saved versions stay on top
    tenant.file_config = config
    tenant.config = effective
    tenant.name = effective["name"]
    tenant.default_locale = effective["default_locale"]
    tenant.currency = config["currency"]
    tenant.theme = config["theme"]
    tenant.config_digest = item.digest
    wanted = tenant_hosts(config)
    primary = config["hosts"][0]
    for host in list(tenant.hosts):
        if host.host not in wanted:
            tenant.hosts.remove(host)
    db.session.flush()
    existing = {h.host: h for h in tenant.hosts}
    for name in wanted:
        host = existing.get(name)
        if host is None:
            tenant.hosts.append(TenantHost(host=name, is_primary=name == primary))
        else:
            host.is_primary = name == primary
    db.session.flush()
    hook.tenant_synced(tenant=tenant, created=created)
    return SyncResult(config["slug"], "created" if created else "updated")


def _hosts(tenant: Tenant) -> set[str]:
    return {h.host for h in tenant.hosts}
