"""Offboarding: export everything a tenant owns, then remove it.

``lendkit tenant export SLUG`` writes one ``.tar.gz`` archive:

* ``manifest.json`` — slug, time, lendkit version, row count per table and
  the SHA-256 of every member;
* ``tenant.json`` — the tenant row, its hosts, stage changes and sign-offs;
* ``tables/<table>.jsonl`` — every row of every tenant-owned table, one JSON
  object per line (dates ISO 8601, decimals as strings, bytes base64);
* ``folder/`` — the tenant's folder (tenant.yaml, theme overrides, legal
  documents, manuals…).

``lendkit tenant remove SLUG --export ARCHIVE --confirm SLUG`` deletes the
tenant only when ARCHIVE is an export of this tenant whose row counts still
match the database (nothing was added since), and the slug is typed again.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
from datetime import date, datetime, timezone
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import delete, func, select

from core.delivery.models import SignOff, StageChange
from core.delivery.stages import tenant_folder
from core.extensions import db
from core.tenancy.models import Tenant
from core.tenancy.scoping import ALL_TENANTS, TenantScoped


class OffboardingError(Exception):
    """Export or removal refused; the message says why."""


def _tenant_tables():
    """Tenant-owned tables, parents before children."""
    scoped = {m.local_table.name for m in db.Model.registry.mappers if issubclass(m.class_, TenantScoped)}
    return [t for t in db.metadata.sorted_tables if t.name in scoped]


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    return value


def _rows(table, tenant_id):
    statement = select(table).where(table.c.tenant_id == tenant_id).order_by(*table.primary_key.columns)
    for row in db.session.execute(statement.execution_options(**{ALL_TENANTS: True})).mappings():
        yield {key: _plain(value) for key, value in row.items()}


def row_counts(tenant: Tenant) -> dict[str, int]:
    counts = {}
    for table in _tenant_tables():
        statement = select(func.count()).select_from(table).where(table.c.tenant_id == tenant.id)
        counts[table.name] = db.session.execute(statement.execution_options(**{ALL_TENANTS: True})).scalar_one()
    return counts


def _add(archive: tarfile.TarFile, name: str, data: bytes, digests: dict) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(timezone.utc).timestamp())
    archive.addfile(info, io.BytesIO(data))
    digests[name] = hashlib.sha256(data).hexdigest()


def export_tenant(tenant: Tenant, output: Path) -> dict:
    """Write the archive to ``output``; returns the manifest."""
    digests: dict[str, str] = {}
    counts = {}
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with tarfile.open(partial, "w:gz") as archive:
        tenant_record = {
            "tenant": {c.name: _plain(getattr(tenant, c.key)) for c in Tenant.__table__.columns},
            "hosts": [{"host": h.host, "is_primary": h.is_primary} for h in tenant.hosts],
            "stage_changes": [
                {c.name: _plain(getattr(s, c.key)) for c in StageChange.__table__.columns}
                for s in db.session.scalars(select(StageChange).where(StageChange.tenant_id == tenant.id))
            ],
            "sign_offs": [
                {c.name: _plain(getattr(s, c.key)) for c in SignOff.__table__.columns}
                for s in db.session.scalars(select(SignOff).where(SignOff.tenant_id == tenant.id))
            ],
        }
        _add(archive, "tenant.json", json.dumps(tenant_record, ensure_ascii=False, indent=2).encode(), digests)
        for table in _tenant_tables():
            lines = [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in _rows(table, tenant.id)]
            counts[table.name] = len(lines)
            _add(archive, f"tables/{table.name}.jsonl", ("\n".join(lines) + ("\n" if lines else "")).encode(), digests)
        folder = tenant_folder(tenant)
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                _add(archive, f"folder/{path.relative_to(folder).as_posix()}", path.read_bytes(), digests)
        manifest = {
            "slug": tenant.slug,
            "exported_at": datetime.now(timezone.utc).isoformat(),
            "lendkit": version("lendkit"),
            "row_counts": counts,
            "sha256": digests,
        }
        _add(archive, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode(), {})
    partial.replace(output)
    return manifest


def read_manifest(archive_path: Path) -> dict:
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
            for name, digest in manifest["sha256"].items():
                if hashlib.sha256(archive.extractfile(name).read()).hexdigest() != digest:
                    raise OffboardingError(f"{archive_path}: {name} does not match its digest")
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise OffboardingError(f"{archive_path}: not a readable lendkit export ({exc})") from None
    return manifest


def remove_tenant(tenant: Tenant, archive_path: Path, confirm: str) -> dict[str, int]:
    """Delete every row the tenant owns, the tenant and its folder; returns rows deleted per table."""
    if confirm != tenant.slug:
        raise OffboardingError(f"confirmation {confirm!r} does not match the tenant slug {tenant.slug!r}")
    manifest = read_manifest(archive_path)
    if manifest["slug"] != tenant.slug:
        raise OffboardingError(f"{archive_path} is an export of {manifest['slug']!r}, not {tenant.slug!r}")
    current = row_counts(tenant)
    changed = {t: (manifest["row_counts"].get(t), n) for t, n in current.items() if manifest["row_counts"].get(t) != n}
    if changed:
        detail = ", ".join(f"{t}: exported {a}, now {b}" for t, (a, b) in sorted(changed.items()))
        raise OffboardingError(f"data changed since the export ({detail}); export again")
    folder = tenant_folder(tenant)
    deleted = delete_tenant(tenant)
    if folder.is_dir():
        shutil.rmtree(folder)
    return deleted


def delete_rows(tenant: Tenant, keep=frozenset()) -> dict[str, int]:
    """Delete the rows the tenant owns in every tenant-owned table but those named in ``keep``,
    children before parents, in the caller's transaction; rows deleted per table."""
    deleted = {}
    for table in reversed(_tenant_tables()):
        if table.name in keep:
            continue
        result = db.session.execute(delete(table).where(table.c.tenant_id == tenant.id).execution_options(**{ALL_TENANTS: True}))
        deleted[table.name] = result.rowcount
    return deleted


def delete_tenant(tenant: Tenant) -> dict[str, int]:
    """Delete every row the tenant owns and the tenant itself, in one transaction; rows deleted per table."""
    try:
        deleted = delete_rows(tenant)
        db.session.delete(tenant)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return deleted
