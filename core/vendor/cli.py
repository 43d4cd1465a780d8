"""``lendkit vendor …``: operators of the vendor console (a built-in plugin)."""
import click
from flask.cli import with_appcontext

from core import hookimpl


@hookimpl
def register_commands(cli):
    @cli.group("vendor")
    def vendor():
        """The vendor console and its operators."""

    @vendor.command("create-operator")
    @click.option("--login", required=True, help="Sign-in name.")
    @click.option("--name", required=True, help="Full name, recorded on stage changes.")
    @click.password_option("--password", help="At least 12 characters; asked for when left out.")
    @with_appcontext
    def create_operator_command(login, name, password):
        """Create a vendor operator and print the TOTP enrolment URI for their authenticator app."""
        from core.vendor.auth import create_operator

        try:
            operator, uri = create_operator(login, name, password)
        except ValueError as exc:
            raise click.ClickException(str(exc))
        click.echo(f"operator {operator.login} created; add this to the authenticator app:")
        click.echo(uri)
