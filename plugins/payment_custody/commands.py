"""``lendkit sandbox-bank-preload``: SANDBOX ONLY bank-side setup for a tenant on the in-process sandbox bank."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext


@click.command("sandbox-bank-preload")
@click.option("--tenant", "slug", required=True, metavar="SLUG", help="A tenant whose custody bank is `sandbox`.")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def sandbox_bank_preload(slug, source):
    """SANDBOX ONLY: make the tenant's sandbox bank hold the accounts (with balances) listed in SOURCE.

    This is the bank's own side, standing in for the accounts a client's real
    custody bank already holds; the platform's books are not touched.
    """
    from core.custody.instructions import provider_for
    from core.tenancy.models import Tenant

    from .preload import PreloadError, preload_csv
    from .sandbox import SandboxCustody

    tenant = Tenant.by_slug(slug)
    if tenant is None:
        raise click.ClickException(f"no tenant {slug!r}; run `lendkit tenant sync` first")
    provider = provider_for(tenant)
    if not isinstance(provider, SandboxCustody):
        raise click.ClickException(f"{slug} banks with {provider.name!r}: only the sandbox bank can be preloaded")
    try:
        count = preload_csv(provider.engine, source, tenant.currency)
    except PreloadError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{slug}: the sandbox bank holds {count} preloaded account(s) from {source.name}")
