"""``lendkit daily`` and ``lendkit contract verify``: the lending module's commands (a built-in plugin)."""
from __future__ import annotations

import sys
from datetime import date

import click
from flask.cli import with_appcontext

from core import hookimpl


@click.command("daily")
@click.option("--tenant", "slug", required=True, help="The tenant's slug.")
@click.option("--date", "day", default=None, help="The day to run, YYYY-MM-DD (default: today in the tenant's time zone).")
@click.option("--step", "steps", multiple=True, help="Run only these steps (repeatable).")
@with_appcontext
def daily_command(slug, day, steps):
    """Run the day's lending work: settlements, expiry, disbursement, overdue, penalties, collection, notices.

    Idempotent: running a day again changes nothing; a run stopped halfway
    finishes when started again. Without LENDKIT_BROKER_URL the steps run
    in-process; with it, on Celery workers (celery -A core.jobs worker).
    """
    from flask import current_app

    from core import jobs
    from core.lending.daily import STEPS, run_day
    from core.lending.lifecycle import tenant_today
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    tenant = Tenant.by_slug(slug)
    if tenant is None:
        click.echo(f"error: no tenant {slug!r}", err=True)
        sys.exit(1)
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        click.echo(f"error: unknown step {unknown[0]!r} (steps: {', '.join(STEPS)})", err=True)
        sys.exit(1)
    try:
        the_day = date.fromisoformat(day) if day else tenant_today(tenant)
    except ValueError:
        click.echo(f"error: --date must be YYYY-MM-DD, not {day!r}", err=True)
        sys.exit(1)
    jobs.init_app(current_app)

    def echo(step, counts):
        if counts is None:
            click.echo(f"{step:<9} already done for {the_day.isoformat()}")
        else:
            detail = ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing to do"
            click.echo(f"{step:<9} {detail}")

    with tenant_context(tenant):
        run_day(the_day, steps=tuple(s for s in STEPS if not steps or s in steps), echo=echo)
    click.echo(f"daily {slug} {the_day.isoformat()}: done ({'in-process' if jobs.is_eager() else 'workers'})")


@click.group("contract")
def contract_group():
    """Loan contracts."""


@contract_group.command("verify")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def verify_command(path):
    """Check a downloaded contract (PDF or HTML): exit 0 and one line when valid, 1 when not."""
    from core.lending.contracts import verify_file

    verdict = verify_file(path)
    click.echo(verdict.line)
    sys.exit(0 if verdict.valid else 1)


@hookimpl
def register_commands(cli):
    cli.add_command(daily_command)
    cli.add_command(contract_group)
