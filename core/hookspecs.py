"""The plugin contract: every hook lendkit calls, one function each.

A plugin is a distribution registering a module under the entry-point group
``lendkit`` (see ``setup.cfg``); the module defines functions named after
these hooks, decorated with ``from core import hookimpl``. An implementation
may accept fewer arguments than the specification lists, so adding an
argument here never breaks a plugin. ``docs/plugin_hooks.md`` shows each hook
with an example.
"""
import pluggy

hookspec = pluggy.HookspecMarker("lendkit")


# ---------------------------------------------------------------------------
# Providers: each returns named factories. A tenant's ``tenant.yaml`` picks
# one by name and gives it settings, which the factory's ``settings_schema``
# (a marshmallow Schema class) validates when the tenant is loaded.
# ---------------------------------------------------------------------------


@hookspec
def register_custody_banks():
    """Return ``{name: provider class}`` of custody banks this plugin offers.

    Each class subclasses :class:`core.custody.provider.CustodyProvider`.
    """


@hookspec
def register_sms_providers():
    """Return ``{name: provider class}`` of SMS gateways this plugin offers.

    Each class subclasses :class:`core.sms.SmsProvider`.
    """


@hookspec
def register_credit_bureaus():
    """Return ``{name: provider class}`` of credit bureaus this plugin offers.

    Each class subclasses :class:`core.credit.CreditBureau`.
    """


# ---------------------------------------------------------------------------
# Themes and pages
# ---------------------------------------------------------------------------


@hookspec
def register_themes():
    """Return ``{name: folder}`` of themes: each folder holds ``templates/`` and ``static/``.

    A theme overrides any part of ``default``; templates it lacks come from there.
    """


@hookspec
def template_context(tenant, request):
    """Return a dict of extra names every page template sees, or None.

    ``tenant`` is the bound :class:`core.tenancy.models.Tenant` (None on a host
    that serves no tenant); ``request`` is Flask's request.
    """


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


@hookspec
def register_commands(cli):
    """Add click commands to the ``lendkit`` command group ``cli``."""


# ---------------------------------------------------------------------------
# Events: plugins react without the core knowing them. Return values are ignored.
# ---------------------------------------------------------------------------


@hookspec
def tenant_synced(tenant, created):
    """A tenant's ``tenant.yaml`` was loaded into the database.

    ``created`` is True the first time, False when an existing tenant changed.
    Called inside the transaction that stores it, before commit.
    """


@hookspec
def money_moved(tenant, entry):
    """A journal entry was posted (money moved at the bank and in the books).

    ``entry`` is the posted :class:`core.ledger.models.JournalEntry` with its
    lines. Called after the commit, so a plugin failing here cannot undo the
    movement; it is where SMS notices and webhooks hang.
    """


@hookspec
def loan_status_changed(tenant, loan, old_status, new_status):
    """A loan moved between lifecycle states (``listed`` → ``funded``, ``repaying`` → ``overdue``…).

    ``loan`` is the :class:`core.lending.models.Loan` with its new status.
    Called inside the transaction that changes it, before commit; a plugin
    that raises is logged and cannot stop the change.
    """


# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------


@hookspec
def register_compliance_packs():
    """Return ``{name: pack}`` of compliance rule packs a tenant can choose.

    A pack checks borrowing against regulatory caps and checks the tenant's
    configuration (see :mod:`core.credit.compliance` for the pack interface).
    """


@hookspec
def tenant_stage_changed(tenant, old_stage, new_stage, actor, reason):
    """A tenant moved between delivery stages (``lendkit tenant advance`` or a send-back).

    ``reason`` is empty for an advance. Called before the change is committed.
    """
