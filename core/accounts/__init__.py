"""Accounts: users, roles, KYC and personal data.

* :mod:`~core.accounts.identity` — validation and masking of identity data;
* :mod:`~core.accounts.crypto` — encryption at rest and blind indexes;
* :mod:`~core.accounts.models` — users, roles, sessions, codes, KYC, cards;
* :mod:`~core.accounts.otp` — SMS one-time codes;
* :mod:`~core.accounts.signin` — passwords, lockout, TOTP, sessions;
* :mod:`~core.accounts.registration`, :mod:`~core.accounts.profile`,
  :mod:`~core.accounts.kyc`, :mod:`~core.accounts.cards` — what users do;
* :mod:`~core.accounts.roles`, :mod:`~core.accounts.access` — permissions;
* ``views`` / ``staff_views`` (pages), ``resources`` / ``staff_resources`` (API).

``docs/accounts.md`` describes the whole.
"""


def install(app) -> None:
    """Flask-Login, the accounts template helpers and the ``staff`` / ``audit`` commands."""
    from core.accounts.access import current_principal, login_manager
    from core.accounts.cli import staff_cli
    from core.audit.cli import audit_cli

    login_manager.init_app(app)
    app.cli.add_command(staff_cli)
    app.cli.add_command(audit_cli)

    @app.before_request
    def _forget_previous_caller():
        # ``g`` outlives a request when an app context was already pushed (tests, CLI-driven
        # requests): the caller of one request must never be the caller of the next.
        from flask import g

        for name in ("api_user", "_login_user", "session_ended"):
            g.pop(name, None)

    @app.context_processor
    def _accounts_context():
        def can(permission: str) -> bool:
            user = current_principal()
            return bool(user is not None and user.can(permission))

        return {"can": can}
