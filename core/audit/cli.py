"""``lendkit audit``: check a tenant's audit chain."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


@click.group("audit")
def audit_cli():
    """The audit log: staff actions and security events, hash-chained per tenant."""


@audit_cli.command("verify")
@click.option("--tenant", "slug", required=True, metavar="SLUG", help="The tenant whose chain to check.")
@with_appcontext
def verify(slug):
    """Walk the chain; exit 1 naming the first altered or missing record."""
    from core.audit import verify_chain
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    tenant = Tenant.by_slug(slug)
    if tenant is None:
        raise click.ClickException(f"no tenant {slug!r}")
    with tenant_context(tenant):
        report = verify_chain(tenant.id)
    if report.ok:
        click.echo(f"{slug}: audit chain intact ({report.count} records)")
        return
    where = f" (id {report.bad_id})" if report.bad_id else ""
    click.echo(f"{slug}: audit chain broken at record {report.bad_seq}{where}: {report.problem}", err=True)
    sys.exit(1)


@audit_cli.command("list")
@click.option("--tenant", "slug", required=True, metavar="SLUG")
@click.option("--last", default=20, show_default=True, help="How many of the newest records.")
@with_appcontext
def list_records(slug, last):
    """Print the newest records, oldest first."""
    from sqlalchemy import select

    from core.audit.models import AuditRecord
    from core.extensions import db
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    tenant = Tenant.by_slug(slug)
    if tenant is None:
        raise click.ClickException(f"no tenant {slug!r}")
    with tenant_context(tenant):
        rows = db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(last)).all()
        for r in reversed(rows):
            click.echo(f"{r.seq:>6} {r.created_at:%Y-%m-%d %H:%M:%S} {r.event:<24} {r.actor:<14} {r.target} {r.details}")
