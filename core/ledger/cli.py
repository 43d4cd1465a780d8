"""``lendkit ledger …``, ``lendkit reconcile`` and ``lendkit custody resolve``: a built-in plugin.

Registered through ``register_commands`` like any plugin's commands (listed in
``core.plugins.DEFAULT_PLUGINS``). Every failure is one line and a non-zero
exit status; ``reconcile`` and ``ledger verify`` exit 1 when they find a
difference or a problem, 0 when the books are clean.
"""
from __future__ import annotations

import sys
from datetime import date, timedelta

import click
from flask.cli import with_appcontext

from core import hookimpl


def _tenant(slug: str):
    from core.tenancy.models import Tenant

    found = Tenant.by_slug(slug)
    if found is None:
        raise click.ClickException(f"no tenant {slug!r}; run `lendkit tenant sync` first")
    return found


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise click.ClickException(f"--date: {value!r} is not a date like 2025-03-01") from None


def _money(amount, currency: str) -> str:
    from core.ledger.errors import major

    return "-" if amount is None else major(amount, currency)


class _Echo:
    """A text stream writing through click.echo (stdout, as the test runner sees it)."""

    @staticmethod
    def write(text: str) -> None:
        click.echo(text, nl=False)


@click.group("ledger")
def ledger_group():
    """The platform's books: verify and export them."""


@ledger_group.command("verify")
@click.option("--tenant", "slug", required=True, metavar="SLUG", help="The tenant whose books to check.")
@with_appcontext
def ledger_verify(slug):
    """Check that every cached balance equals its lines and every entry sums to zero."""
    from sqlalchemy import func, select

    from core.extensions import db
    from core.ledger.balances import verify
    from core.ledger.models import JournalEntry, LedgerAccount
    from core.tenancy import tenant_context

    with tenant_context(_tenant(slug)):
        problems = verify()
        accounts = db.session.scalar(select(func.count(LedgerAccount.id)))
        entries = db.session.scalar(select(func.count(JournalEntry.id)))
    for problem in problems:
        click.echo(f"  {problem}")
    if problems:
        click.echo(f"{slug}: {len(problems)} problem(s) in {accounts} accounts and {entries} entries")
        sys.exit(1)
    click.echo(f"{slug}: the books hold ({accounts} accounts, {entries} entries)")


@ledger_group.command("export")
@click.option("--tenant", "slug", required=True, metavar="SLUG", help="The tenant whose books to export.")
@click.option("--format", "fmt", type=click.Choice(["beancount"]), default="beancount", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
@with_appcontext
def ledger_export(slug, fmt, output):
    """Write the tenant's books as a beancount file (check it with bean-check)."""
    from core.ledger.export import export_beancount
    from core.tenancy import tenant_context

    with tenant_context(_tenant(slug)):
        if output:
            try:
                with open(output, "w", encoding="utf-8") as fh:
                    stats = export_beancount(fh)
            except OSError as exc:
                raise click.ClickException(f"--output: cannot write {output}: {exc.strerror or exc}") from None
            click.echo(f"{slug}: {stats['accounts']} accounts, {stats['transactions']} transactions, "
                       f"{stats['postings']} postings written to {output}", err=True)
        else:
            export_beancount(_Echo())


@click.command("reconcile")
@click.option("--tenant", "slug", required=True, metavar="SLUG", help="The tenant to reconcile.")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD", help="The bank statement's day.")
@with_appcontext
def reconcile_command(slug, day):
    """Compare the ledger with the custody bank's statement of a day; exit 1 on any difference."""
    from core.custody.provider import CustodyError
    from core.custody.reconcile import FutureDay, reconcile, refuse_future_day
    from core.tenancy import tenant_context

    when = _day(day)
    tenant = _tenant(slug)
    with tenant_context(tenant):
        try:
            refuse_future_day(when, tenant)
        except FutureDay as exc:
            raise click.ClickException(f"--date: {exc}") from None
        try:
            run = reconcile(when)
        except CustodyError as exc:
            raise click.ClickException(f"the custody bank could not give the statement: {exc}") from None
        currency = run.currency
        differences = list(run.differences)
        click.echo(f"{slug} {when.isoformat()} {currency}: {run.bank_lines} bank lines, "
                   f"{run.ledger_entries} ledger entries, {run.difference_count} difference(s) (run {run.id})")
        for d in differences:
            click.echo(f"  {d.kind:<18} {d.request_no or '-':<28} {d.account} {d.bucket:<9} "
                       f"ledger {_money(d.ledger_amount, currency):>16}  bank {_money(d.bank_amount, currency):>16}"
                       + (f"  ({d.note})" if d.note else ""))
    if differences:
        sys.exit(1)


@click.group("custody")
def custody_group():
    """Custody bank instructions."""


@custody_group.command("resolve")
@click.option("--tenant", "slug", required=True, metavar="SLUG")
@click.option("--grace", default=30, show_default=True, type=click.IntRange(min=0),
              help="Seconds a created instruction may wait before it is queried and resent.")
@with_appcontext
def custody_resolve(slug, grace):
    """Settle every unknown or unanswered instruction by querying the bank with its request number."""
    from core.custody.instructions import resolve_unknown
    from core.tenancy import tenant_context

    with tenant_context(_tenant(slug)):
        counts = resolve_unknown(grace=timedelta(seconds=grace))
    click.echo(f"{slug}: checked {counts['checked']}, confirmed {counts['confirmed']}, refused {counts['refused']}, "
               f"still open {counts['open']}, bank unreachable {counts['failed']}")
    if counts["open"] or counts["failed"]:
        sys.exit(1)


@custody_group.command("open-platform")
@click.option("--tenant", "slug", required=True, metavar="SLUG")
@click.option("--card", "card_number", required=True, help="The platform's settlement bank card (Luhn-valid).")
@with_appcontext
def custody_open_platform(slug, card_number):
    """Open the platform's own sub-accounts at the custody bank (once per tenant, before any money moves)."""
    from core.custody.service import open_platform
    from core.tenancy import tenant_context

    tenant = _tenant(slug)
    company = tenant.config["company"]
    with tenant_context(tenant):
        done = open_platform(name=company["legal_name"], registration_number=company.get("registration_number") or tenant.slug,
                             card_number=card_number)
        states = {i.body.get("account", i.kind): i.state for i in done}
    click.echo(f"{slug}: " + ", ".join(f"{account} {state}" for account, state in states.items()))
    if any(state == "refused" for state in states.values()):
        sys.exit(1)


@hookimpl
def register_commands(cli):
    """Add ``ledger``, ``reconcile``, ``custody`` and (when its plugin is loaded) ``sandbox-bank``."""
    for command in (ledger_group, reconcile_command, custody_group):
        if command.name not in cli.commands:
            cli.add_command(command)
    if "sandbox-bank" not in cli.commands:
        from core.plugins import get_plugin_manager

        if get_plugin_manager().get_plugin("payment_custody") is not None:
            from plugins.payment_custody.bank_server import sandbox_bank_command

            cli.add_command(sandbox_bank_command)
