"""Custody bank plugin: the ``sandbox`` (in-process) and ``http`` (signed HTTP) providers.

Also ships the sandbox bank engine and a standalone sandbox bank server
(``python -m plugins.payment_custody.bank_server``). See README.md for the protocol.
"""
from core import hookimpl


@hookimpl
def register_custody_banks():
    """Custody providers offered by this plugin, by the name used in tenant.yaml."""
    from .http_provider import HttpCustody
    from .sandbox import SandboxCustody

    return {"sandbox": SandboxCustody, "http": HttpCustody}


@hookimpl
def register_commands(cli):
    """``lendkit sandbox-bank-preload``: SANDBOX ONLY, accounts a tenant's in-process sandbox bank already holds."""
    if "sandbox-bank-preload" not in cli.commands:
        from .commands import sandbox_bank_preload

        cli.add_command(sandbox_bank_preload)


def __getattr__(name):
    # lazy access to the provider classes without importing requests/SQLAlchemy up front
    if name == "SandboxCustody":
        from .sandbox import SandboxCustody

        return SandboxCustody
    if name == "HttpCustody":
        from .http_provider import HttpCustody

        return HttpCustody
    raise AttributeError(name)
