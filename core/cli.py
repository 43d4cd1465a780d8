"""The ``lendkit`` command: the operator's tool, built on the app factory.

Every failure ends with a non-zero exit status and one line on stderr saying
what was wrong (file, field and problem for configuration errors).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from core.config import ConfigError


def _create_app():
    from core.app import create_app

    return create_app()


class LendkitGroup(FlaskGroup):
    """FlaskGroup plus the commands plugins add through ``register_commands``."""

    def __init__(self, **kwargs):
        super().__init__(create_app=_create_app, add_version_option=False, load_dotenv=False, **kwargs)
        self._plugin_commands_loaded = False
        # lendkit always builds its own app: Flask's --app and --env-file would only confuse.
        self.params = [p for p in self.params if p.name not in {"app", "env_file"}]

    def _load_plugin_commands(self):
        if not self._plugin_commands_loaded:
            self._plugin_commands_loaded = True
            from core.plugins import get_plugin_manager

            get_plugin_manager().hook.register_commands(cli=self)

    def get_command(self, ctx, name):
        self._load_plugin_commands()
        return super().get_command(ctx, name)

    def list_commands(self, ctx):
        self._load_plugin_commands()
        return super().list_commands(ctx)


@click.group(cls=LendkitGroup, help="lendkit: run and operate a multi-tenant lending platform.")
def cli():
    pass


# --------------------------------------------------------------------- db


@cli.group()
def db():
    """Database schema (alembic migrations)."""


def alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", current_app.config["LENDKIT_MIGRATIONS_DIR"])
    cfg.set_main_option("sqlalchemy.url", current_app.config["SQLALCHEMY_DATABASE_URI"].replace("%", "%%"))
    return cfg


@db.command("upgrade")
@click.argument("revision", default="heads")
@with_appcontext
def db_upgrade(revision):
    """Migrate the database up to REVISION (default: every branch's newest)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision):
    """Migrate the database down to REVISION (``base`` empties it)."""
    from alembic import command

    command.downgrade(alembic_config(), revision)


@db.command("current")
@with_appcontext
def db_current():
    """Show the database's revision."""
    from alembic import command

    command.current(alembic_config(), verbose=False)


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration changes.")
@click.option("--rev-id", required=True, help="The next number, e.g. 0002.")
@with_appcontext
def db_revision(message, rev_id):
    """Write migration REV-ID from the difference between the models and the database."""
    from alembic import command

    slug = "_".join(message.lower().replace(",", " ").split())[:40]
    command.revision(alembic_config(), message=message, autogenerate=True, rev_id=rev_id)
    click.echo(f"review migrations/versions/{rev_id}_{slug}.py before committing")


# ----------------------------------------------------------------- tenant


@cli.group()
def tenant():
    """Tenants: the clients served by this deployment."""


@tenant.command("sync")
@click.option("--only", metavar="SLUG", help="Load only this tenant.")
@with_appcontext
def tenant_sync(only):
    """Load or refresh tenants/*/tenant.yaml into the database."""
    from core.tenancy.sync import sync_tenants

    for result in sync_tenants(only=only):
        click.echo(f"{result.slug}: {result.action}")


@tenant.command("new")
@click.option("--from", "source", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The requirements questionnaire (YAML).")
@with_appcontext
def tenant_new(source):
    """Render tenants/<slug>/ from a requirements questionnaire and serve its demo site."""
    from core.delivery.requirements import RequirementsError
    from core.delivery.scaffold import new_tenant

    try:
        created = new_tenant(source)
    except RequirementsError as exc:
        for line in exc.lines():
            click.echo(f"  {line}", err=True)
        raise click.ClickException(f"{exc.path}: {len(exc.problems)} problem(s) to fix before the tenant can be built")
    except (OSError, ValueError, RuntimeError) as exc:  # new_tenant removed what it had made
        raise click.ClickException(f"{source}: the tenant could not be built, nothing of it was kept: "
                                   f"{type(exc).__name__}: {exc}") from exc
    click.echo(f"{created.slug}: created {created.folder}")
    for host in created.hosts:
        click.echo(f"  http://{host}" + (":5000" if host.endswith(".localhost") else ""))


def _tenant_or_fail(slug):
    from core.tenancy.models import Tenant

    found = Tenant.by_slug(slug)
    if found is None:
        raise click.ClickException(f"no tenant {slug!r}; run `lendkit tenant sync` first")
    return found


def _operator() -> str:
    return os.environ.get("LENDKIT_OPERATOR") or os.environ.get("USER") or "operator"


def _print_checks(checks) -> None:
    for check in checks:
        mark = "pass" if check.passed else "FAIL"
        click.echo(f"  [{mark}] {check.name}" + (f": {check.detail}" if check.detail else ""))


@tenant.command("advance")
@click.argument("slug")
@with_appcontext
def tenant_advance(slug):
    """Move SLUG to its next delivery stage if that stage's gate passes."""
    from core.delivery import gates  # noqa: F401  (registers the gates)
    from core.delivery.stages import StageError, advance

    found = _tenant_or_fail(slug)
    current = found.stage
    try:
        moved, target, checks = advance(found, actor=_operator())
    except StageError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{slug}: {current} → {target}")
    _print_checks(checks)
    if not moved:
        raise click.ClickException(f"{slug} stays {current}: the {target} gate did not pass")
    click.echo(f"{slug} is now {target}")


@tenant.command("gates")
@click.argument("slug")
@with_appcontext
def tenant_gates(slug):
    """Run the gate of SLUG's next stage without moving it; exit 1 when a check fails."""
    from core.delivery import gates  # noqa: F401
    from core.delivery.stages import next_stage, run_gate

    found = _tenant_or_fail(slug)
    target = next_stage(found.stage)
    if target is None:
        click.echo(f"{slug} is {found.stage}, the last stage")
        return
    click.echo(f"{slug}: {found.stage} → {target}")
    checks = run_gate(found, target)
    _print_checks(checks)
    failed = sum(1 for check in checks if not check.passed)
    if failed:
        raise click.ClickException(f"{slug}: the {target} gate does not pass: "
                                   f"{failed} {'check' if failed == 1 else 'checks'} of {len(checks)} failed")


@tenant.command("accept")
@click.argument("slug")
@click.option("--locale", default="en", show_default=True, type=click.Choice(("en", "zh_CN")),  # SUPPORTED_LOCALES
              help="Language of the suite's scenarios, steps and report.")
@with_appcontext
def tenant_accept(slug, locale):
    """Run SLUG's acceptance suite: a loan of each product and method through its whole life."""
    from flask_babel import force_locale, ngettext

    from core.delivery.acceptance import run_acceptance

    found = _tenant_or_fail(slug)
    run = run_acceptance(found, actor=_operator(), locale=locale)
    for scenario in run.scenarios:
        click.echo(f"  [{'pass' if scenario['passed'] else 'FAIL'}] {scenario['name']}")
        for line in scenario["steps"]:
            click.echo(f"         {line}")
        if not scenario["passed"]:
            click.echo(f"         {scenario['detail']}")
    loans = run.scenarios[:-1]  # the last check is the books'
    passed = sum(s["passed"] for s in loans)
    with force_locale(locale):
        if not run.passed:
            if run.scenarios[-1]["passed"]:
                raise click.ClickException(ngettext(
                    "%(slug)s: %(passed)s of %(num)d acceptance loan lived its whole life",
                    "%(slug)s: %(passed)s of %(num)d acceptance loans lived their whole life",
                    len(loans), slug=slug, passed=passed))
            raise click.ClickException(ngettext(
                "%(slug)s: %(passed)s of %(num)d acceptance loan lived its whole life; the books do not hold",
                "%(slug)s: %(passed)s of %(num)d acceptance loans lived their whole life; the books do not hold",
                len(loans), slug=slug, passed=passed))
        click.echo(ngettext("%(slug)s: the %(num)d acceptance loan lived its whole life and the books hold "
                            "(run %(id)s)",
                            "%(slug)s: all %(num)d acceptance loans lived their whole life and the books hold "
                            "(run %(id)s)", passed, slug=slug, id=run.id))


@tenant.command("clear-demo")
@click.argument("slug")
@click.option("--confirm", required=True, help="The slug again: the demo people, money and loans are deleted.")
@with_appcontext
def tenant_clear_demo(slug, confirm):
    """Delete SLUG's demo people, money and loans before it is configured for real providers."""
    from core.delivery.demo import ClearRefused, clear_demo

    found = _tenant_or_fail(slug)
    if confirm != slug:
        raise click.ClickException(f"--confirm {confirm!r} does not match the tenant slug {slug!r}")
    try:
        deleted = clear_demo(found, actor=_operator())
    except ClearRefused as exc:
        raise click.ClickException(str(exc))
    total = sum(deleted.values())
    click.echo(f"{slug}: {total} demo rows deleted" + (f" ({', '.join(f'{t} {n}' for t, n in sorted(deleted.items()))})" if total else ""))


@tenant.command("send-back")
@click.argument("slug")
@click.option("--to", "to_stage", required=True, help="The earlier stage to return to.")
@click.option("--reason", required=True, help="Why; recorded with the change.")
@with_appcontext
def tenant_send_back(slug, to_stage, reason):
    """Return SLUG to an earlier delivery stage, with a reason."""
    from core.delivery.stages import StageError, send_back

    found = _tenant_or_fail(slug)
    current = found.stage
    try:
        send_back(found, to_stage, actor=_operator(), reason=reason)
    except StageError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{slug}: {current} → {to_stage} ({reason})")


@tenant.command("sign-off")
@click.argument("slug")
@click.option("--by", "signed_by", required=True, help="The client's signatory.")
@with_appcontext
def tenant_sign_off(slug, signed_by):
    """Record the client's sign-off of the requirements and the demo."""
    from core.delivery.stages import StageError, record_sign_off

    found = _tenant_or_fail(slug)
    try:
        sign_off = record_sign_off(found, signed_by, recorded_by=_operator())
    except StageError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{slug}: signed off by {sign_off.signed_by}; requirements {sign_off.requirements_digest[:12]}, {sign_off.demo_version}")


@tenant.command("manuals")
@click.argument("slug")
@with_appcontext
def tenant_manuals(slug):
    """Generate SLUG's operations manual and admin guide (HTML and PDF)."""
    from core.delivery.manuals import generate_manuals

    for path in generate_manuals(_tenant_or_fail(slug)):
        click.echo(str(path))


@tenant.command("export")
@click.argument("slug")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Archive path (default instance/exports/<slug>-<time>.tar.gz).")
@with_appcontext
def tenant_export(slug, output):
    """Write all of SLUG's data and its folder to one archive."""
    from datetime import datetime, timezone

    from core.delivery.offboarding import export_tenant

    found = _tenant_or_fail(slug)
    if output is None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        output = Path(current_app.instance_path) / "exports" / f"{slug}-{stamp}.tar.gz"
    manifest = export_tenant(found, output)
    rows = sum(manifest["row_counts"].values())
    click.echo(f"{slug}: {rows} rows in {len(manifest['row_counts'])} tables, {len(manifest['sha256'])} files -> {output}")


@tenant.command("remove")
@click.argument("slug")
@click.option("--export", "archive", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The export made with `lendkit tenant export`.")
@click.option("--confirm", required=True, help="Type the slug again to confirm.")
@with_appcontext
def tenant_remove(slug, archive, confirm):
    """Delete SLUG's data and folder, only after a matching export."""
    from core.delivery.offboarding import OffboardingError, remove_tenant

    found = _tenant_or_fail(slug)
    try:
        deleted = remove_tenant(found, archive, confirm)
    except OffboardingError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{slug}: removed ({sum(deleted.values())} rows); its data remains in {archive}")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def tenant_list(as_json):
    """List tenants with their hosts, locale, currency, theme and stage."""
    from sqlalchemy import select

    from core.extensions import db as database
    from core.tenancy.models import Tenant

    tenants = database.session.scalars(select(Tenant).order_by(Tenant.slug)).all()
    rows = [
        {
            "slug": t.slug,
            "name": t.name,
            "hosts": [h.host for h in t.hosts],
            "locale": t.default_locale,
            "currency": t.currency,
            "theme": t.theme,
            "stage": t.stage,
        }
        for t in tenants
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no tenants; run `lendkit tenant sync`")
    for row in rows:
        click.echo(
            f"{row['slug']:<16} {row['name']:<24} {row['locale']:<6} {row['currency']} "
            f"{row['theme']:<10} {row['stage']:<12} {', '.join(row['hosts'])}"
        )


@tenant.command("seed")
@click.argument("slug", required=False)
@with_appcontext
def tenant_seed(slug):
    """Load demo data: notices from tenants/<slug>/seed/, demo people and a live listing per product
    on the sandbox bank (every tenant when SLUG is left out)."""
    from sqlalchemy import select

    from core.extensions import db as database
    from core.delivery.demo import seed_tenant
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    query = select(Tenant).order_by(Tenant.slug)
    if slug:
        query = query.where(Tenant.slug == slug)
    tenants = database.session.scalars(query).all()
    if slug and not tenants:
        raise click.ClickException(f"no tenant {slug!r}; run `lendkit tenant sync` first")
    for item in tenants:
        with tenant_context(item):
            try:
                count, demo = seed_tenant(item)
            except Exception as exc:  # seed_demo cleared what it made
                raise click.ClickException(f"{item.slug}: seeding the demo failed, nothing of it was kept: "
                                           f"{type(exc).__name__}: {exc}") from exc
        notices = f"{count} notice" + ("" if count == 1 else "s")
        if demo.skipped:
            click.echo(f"{item.slug}: {notices}, no demo listings ({demo.skipped})")
        else:
            listings = f"{demo.listings} demo listing" + ("" if demo.listings == 1 else "s")
            click.echo(f"{item.slug}: {notices}, {listings}" + (f" ({demo.added} new)" if demo.added else ""))


@tenant.command("import")
@click.argument("slug")
@click.option("--users", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="users.csv: people and companies with their custody sub-accounts.")
@click.option("--loans", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="loans.csv: loans in progress and their investors' claims.")
@click.option("--repayments", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="repayments.csv: installments already repaid.")
@click.option("--dry-run", is_flag=True, help="Check everything (the bank too) and say what would be created; write nothing.")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="The cut-over day the files describe (default today): loan statuses are judged on it.")
@click.option("--locale", default=None, help="Language of the report (en, zh_CN).")
@click.option("--nothing", is_flag=True, help="Record that the client brings no base data (a new platform).")
@with_appcontext
def tenant_import(slug, users, loans, repayments, dry_run, as_of, locale, nothing):
    """Import SLUG's base data from its previous system: all or nothing, reconciled with the custody bank."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from core.delivery.importer import BankUnreachable, ImportRefused, reconcile_imported, record_nothing, run_import
    from core.tenancy import tenant_context

    found = _tenant_or_fail(slug)
    paths = {"users": users, "loans": loans, "repayments": repayments}
    if nothing:
        if any(paths.values()) or dry_run:
            raise click.UsageError("--nothing records that there is no base data: give no files and no --dry-run")
        try:
            batch_id = record_nothing(found, operator=_operator())
        except ValueError as exc:
            raise click.ClickException(f"{slug}: {exc}")
        click.echo(f"{slug}: recorded that the client brings no base data (batch {batch_id})")
        return
    if not any(paths.values()):
        raise click.UsageError("give at least one of --users, --loans, --repayments (or --nothing)")
    if as_of is not None:
        from datetime import date

        from core.lending.lifecycle import tenant_today

        try:
            as_of = date.fromisoformat(as_of)
        except ValueError:
            raise click.UsageError(f"--as-of: {as_of!r} is not a date like 2025-03-01")
        if as_of > tenant_today(found):
            raise click.UsageError(f"--as-of: {as_of} is after today")
    with force_locale(locale or "en"):
        try:
            plan, batch_id = run_import(found, paths, operator=_operator(), dry_run=dry_run, as_of=as_of)
        except ImportRefused as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            files = ", ".join(dict.fromkeys(p.file for p in exc.problems))
            raise click.ClickException(_("%(slug)s: %(count)s problem(s) in %(files)s; nothing was imported",
                                         slug=slug, count=len(exc.problems), files=files))
        except BankUnreachable as exc:
            raise click.ClickException(_("%(slug)s: the custody bank (%(provider)s) cannot be reached (%(reason)s); "
                                         "nothing was imported", slug=slug, provider=exc.provider, reason=exc.reason))
        currency = found.currency
        created, unchanged = plan.counts(), plan.unchanged
        if plan.empty and not any(unchanged.values()):
            click.echo(_("%(slug)s: the files hold no rows; nothing was imported (if the client brings no base data, "
                         "record that with --nothing)", slug=slug))
            return
        if plan.empty:
            click.echo(_("%(slug)s: nothing new; every row was imported before (%(users)s users, %(loans)s loans, "
                         "%(repayments)s repayments); nothing changed", slug=slug, users=unchanged["user"],
                         loans=unchanged["loan"], repayments=unchanged["repayment"]))
            return
        from core.ledger.errors import major

        installments = sum(len(p.schedule.installments) for p in plan.loans)
        claims = sum(len(p.row.holders) for p in plan.loans)
        click.echo(_("%(slug)s: dry run, nothing written; the import would create:", slug=slug) if dry_run
                   else _("%(slug)s: imported (batch %(batch)s):", slug=slug, batch=batch_id))
        click.echo("  " + _("users: %(new)s new, %(before)s imported before", new=created["user"], before=unchanged["user"])
                   + (_("; opening balances %(total)s, each agreeing with the bank",
                        total=major(plan.opening_total, currency)) if created["user"] else ""))
        click.echo("  " + _("loans: %(new)s new (%(installments)s installments, %(claims)s claims), %(before)s imported "
                            "before", new=created["loan"], installments=installments, claims=claims,
                            before=unchanged["loan"]))
        click.echo("  " + _("repayments: %(new)s new, %(before)s imported before", new=created["repayment"],
                            before=unchanged["repayment"])
                   + (_("; %(count)s earlier loan(s) change status", count=len(plan.status_changes))
                      if plan.status_changes else ""))
        if dry_run:
            return
        with tenant_context(found):
            try:
                accounts = reconcile_imported(found)
            except BankUnreachable as exc:
                raise click.ClickException(_("%(slug)s: imported, but the custody bank (%(provider)s) cannot be reached "
                                             "to reconcile (%(reason)s)", slug=slug, provider=exc.provider,
                                             reason=exc.reason))
        differing = [a for a in accounts if not a.agrees]
        for account in differing:
            click.echo("  " + _("%(external_id)s (%(account)s): ledger %(ledger)s, bank %(bank)s (available, frozen)",
                                external_id=account.external_id, account=account.account, ledger=account.ledger,
                                bank=account.bank), err=True)
        if differing:
            raise click.ClickException(_("%(slug)s: %(count)s imported sub-account(s) differ from the bank",
                                         slug=slug, count=len(differing)))
        click.echo("  " + _("reconciled: the ledger agrees with the bank for all %(count)s imported sub-accounts",
                            count=len(accounts)))


# ---------------------------------------------------------------- plugins


@cli.group("plugin")
def plugin_group():
    """Provider plugins: scaffold a new one."""


@plugin_group.command("new")
@click.option("--family", required=True, type=click.Choice(["sms", "custody", "credit_bureau"]), help="What the provider provides.")
@click.option("--name", required=True, help="The provider's name in tenant.yaml, e.g. acme-sms.")
@click.option("--title", default="", help="One line describing it.")
@click.option("--output", default=".", type=click.Path(file_okay=False, path_type=Path), help="Where to write lendkit-<name>/.")
def plugin_new(family, name, title, output):
    """Render a provider plugin package with its tests from scaffolding/plugin/."""
    from core.delivery.scaffold import new_plugin

    try:
        target = new_plugin(family, name, title, output)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"created {target}; `pip install -e {target}` then `lendkit plugins`")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(as_json):
    """List plugins and the providers each registers."""
    from core.app import create_app
    from core.plugins import plugin_summary

    with create_app().app_context():
        rows = plugin_summary()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}  ({row['distribution']})")
        for family, names in row["providers"].items():
            click.echo(f"    {family}: {', '.join(names) or '-'}")
        click.echo(f"    hooks: {', '.join(row['hooks'])}")


def main(argv=None) -> None:
    """Console-script entry point: one clear line and exit 1 (2 for usage) on failure."""
    from core.tenancy.config import TenantConfigError

    try:
        cli.main(args=argv, prog_name="lendkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("lendkit: aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        where = f" ({exc.ctx.command_path})" if exc.ctx else ""
        click.echo(f"lendkit: {exc.format_message()}{where}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"lendkit: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (TenantConfigError, ConfigError) as exc:
        click.echo(f"lendkit: {exc}", err=True)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:  # last resort: still one line, never a traceback wall
        if os.environ.get("LENDKIT_DEBUG"):
            raise
        click.echo(f"lendkit: {type(exc).__name__}: {exc}".splitlines()[0], err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
