"""``lendkit vendor …``: operators of the vendor console (a built-in plugin)."""
import sys

import click
from flask.cli import with_appcontext

from core import hookimpl


def _interactive() -> bool:
    """Whether a person at a terminal can be asked for the password (a script or a pipe cannot)."""
    return sys.stdin is not None and sys.stdin.isatty()


@hookimpl
def register_commands(cli):
    @cli.group("vendor")
    def vendor():
        """The vendor console and its operators."""

    @vendor.command("create-operator")
    @click.option("--login", required=True, help="Sign-in name.")
    @click.option("--name", required=True, help="Full name, recorded on stage changes.")
    @click.option("--password", help="At least 12 characters; asked for (twice, hidden) when left out "
                                     "in a terminal, required otherwise.")
    @with_appcontext
    def create_operator_command(login, name, password):
        """Create a vendor operator and print the TOTP enrolment URI for their authenticator app."""
        from core.vendor.auth import create_operator

        if password is None:
            if not _interactive():
                raise click.UsageError("--password is required when no terminal is there to ask for it")
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            operator, uri = create_operator(login, name, password)
        except ValueError as exc:
            raise click.ClickException(str(exc))
        click.echo(f"operator {operator.login} created; add this to the authenticator app:")
        click.echo(uri)
