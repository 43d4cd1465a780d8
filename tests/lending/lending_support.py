"""Helpers the lending tests share (imported by name: ``from lending_support import …``).

``World`` builds people at the bound tenant the way the accounts module
leaves them — verified identity, custody sub-account opened at the sandbox
bank, funds deposited — and drives a loan through its life.
"""
from __future__ import annotations


from core.delivery.rehearsal import PLATFORM_ROLES, Cast, sandbox_company, sandbox_person  # noqa: F401
from core.extensions import db

TX_PASSWORD = Cast.transaction_password
PASSWORD = Cast.password


class World(Cast):
    """People and money at the bound tenant (:class:`core.delivery.rehearsal.Cast`), plus API tokens."""

    def token(self, user, *, second_factor: bool = True) -> dict:
        """Headers with an API bearer token of ``user``."""
        from core.accounts.signin import open_session

        token = open_session(self.tenant, user, kind="api", second_factor=second_factor)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}


def texts_sent(monkeypatch) -> list[str]:
    """Every SMS text sent from now on (still sent through the tenant's gateway), in order."""
    from core.accounts import sms

    sent: list[str] = []
    real = sms.send_text

    def recording(tenant, mobile, text):
        sent.append(text)
        return real(tenant, mobile, text)

    monkeypatch.setattr(sms, "send_text", recording)
    return sent


def books_are_clean() -> list[str]:
    """Every problem of the bound tenant's books (cached vs derived balances, unbalanced entries)."""
    from core.ledger.balances import verify

    return verify()


def reconcile_all_days() -> list:
    """Reconcile the bound tenant's ledger against the bank for every day with a movement; the differences."""
    from core.delivery.acceptance import reconcile_every_day

    return reconcile_every_day()
