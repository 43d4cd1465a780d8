"""``lendkit staff``: tenant staff accounts from the command line (the first admin)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from core.accounts.models import STAFF_ROLES


@click.group("staff")
def staff_cli():
    """Tenant staff: tenant_admin, reviewer, risk_officer, finance, support."""


@staff_cli.command("create")
@click.option("--tenant", "slug", required=True, metavar="SLUG", help="The tenant the staff member works for.")
@click.option("--mobile", required=True, help="The staff member's mobile number (their sign-in name).")
@click.option("--role", "roles", required=True, multiple=True, type=click.Choice(STAFF_ROLES), help="A staff role; repeat for several.")
@click.option("--password", envvar="LENDKIT_STAFF_PASSWORD", default=None,
              help="Password of a new account (else asked; or LENDKIT_STAFF_PASSWORD).")
@click.option("--totp/--no-totp", default=True, show_default=True,
              help="Set up two-factor sign-in now and print the authenticator key and QR code.")
@with_appcontext
def create(slug, mobile, roles, password, totp):
    """Create a staff member, or give an existing account staff roles."""
    from core.accounts.identity import mask_mobile
    from core.accounts.models import User
    from core.accounts.policy import AccountRefused
    from core.accounts.registration import clean_mobile
    from core.accounts.signin import provisioning_uri, start_totp_enrolment
    from core.accounts.staffing import create_staff
    from core.extensions import db
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant

    tenant = Tenant.by_slug(slug)
    if tenant is None:
        raise click.ClickException(f"no tenant {slug!r}; run `lendkit tenant sync` first")
    with tenant_context(tenant):
        try:
            number = clean_mobile(mobile)
        except AccountRefused as exc:
            raise click.ClickException(f"--mobile: {exc}") from None
        exists = User.by_mobile(tenant, number) is not None
        if not exists and password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            user, created = create_staff(tenant, mobile=number, roles=roles, password=None if exists else password)
        except AccountRefused as exc:
            db.session.rollback()
            raise click.ClickException(f"--{exc.field or 'role'}: {exc}") from None
        uri = None
        if totp and not user.totp_enrolled:
            start_totp_enrolment(tenant, user)
            uri = provisioning_uri(tenant, user)
        db.session.commit()
        click.echo(f"{slug}: {'created' if created else 'updated'} staff {mask_mobile(number)} (user {user.id}) "
                   f"with roles {', '.join(sorted(user.role_names))}")
        if uri:
            click.echo("Add this key to an authenticator app; its first code confirms it at sign-in:")
            click.echo(uri)
            try:
                import segno

                segno.make(uri, error="m").terminal(compact=True)
            except Exception:  # a terminal that cannot draw the code still has the URI above
                pass
