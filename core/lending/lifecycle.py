"""The one way a loan's status changes: :func:`move`, along :data:`~core.lending.models.LOAN_TRANSITIONS`.

:func:`move` refuses every move the table lacks with :class:`LoanStateError`
(the API answers 409 with its message, pages flash it), records a
:class:`LoanEvent` and calls the ``loan_status_changed`` hook. Callers hold
the loan's row lock (:func:`lock_loan`) and commit.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from core.extensions import db
from core.lending.errors import NotFound, wrong_state
from core.lending.models import LOAN_TRANSITIONS, Loan, LoanEvent
from core.tenancy.models import Tenant, utcnow
from core.tenancy.scoping import current_tenant_id

log = logging.getLogger("lendkit.lending")

__all__ = ["move", "can_move", "lock_loan", "get_loan", "bound_tenant"]


def bound_tenant() -> Tenant:
    return db.session.get(Tenant, current_tenant_id())


def can_move(loan: Loan, new_status: str) -> bool:
    return new_status in LOAN_TRANSITIONS.get(loan.status, ())


def move(loan: Loan, new_status: str, *, actor: str = "system", reason: str = "") -> None:
    """Change ``loan.status`` to ``new_status`` or raise :class:`LoanStateError`."""
    if not can_move(loan, new_status):
        raise wrong_state(loan, new_status)
    old_status = loan.status
    loan.status = new_status
    loan.status_changed_at = utcnow()
    db.session.add(LoanEvent(loan_id=loan.id, old_status=old_status, new_status=new_status,
                             actor=actor[:64], reason=reason or "", at=loan.status_changed_at))
    db.session.flush()
    _announce(loan, old_status, new_status)


def _announce(loan: Loan, old_status: str, new_status: str) -> None:
    """Call each ``loan_status_changed`` implementation; one that fails is logged, the others still run."""
    from core.plugins import get_plugin_manager

    impls = list(reversed(get_plugin_manager().hook.loan_status_changed.get_hookimpls()))
    if not impls:
        return
    values = {"tenant": bound_tenant(), "loan": loan, "old_status": old_status, "new_status": new_status}
    for impl in impls:
        try:
            impl.function(*[values[name] for name in impl.argnames])
        except Exception:  # noqa: BLE001 - a plugin cannot stop the lifecycle
            log.exception("loan_status_changed plugin %s failed for loan %s", impl.plugin_name, loan.number)


def get_loan(loan_id: int) -> Loan:
    """The bound tenant's loan ``loan_id`` (fresh from the database) or :class:`NotFound`."""
    loan = db.session.scalars(
        select(Loan).where(Loan.id == loan_id).execution_options(populate_existing=True)
    ).first()
    if loan is None:
        from flask_babel import lazy_gettext as _l

        raise NotFound(_l("No loan %(id)s.", id=loan_id))
    return loan


def lock_loan(loan_id: int) -> Loan:
    """The loan row, locked until commit: ``SELECT … FOR UPDATE`` on PostgreSQL.

    On SQLite call it inside :func:`core.ledger.journal.writing`, which serialises
    writers (process lock + ``BEGIN IMMEDIATE``), so the read-check-write is safe there too.
    """
    loan = db.session.scalars(
        select(Loan).where(Loan.id == loan_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if loan is None:
        from flask_babel import lazy_gettext as _l

        raise NotFound(_l("No loan %(id)s.", id=loan_id))
    return loan


def tenant_zone(tenant):
    from zoneinfo import ZoneInfo

    return ZoneInfo((tenant.config or {}).get("timezone") or "UTC")


def tenant_today(tenant=None):
    """Today in the tenant's time zone."""
    from datetime import datetime

    tenant = tenant or bound_tenant()
    return datetime.now(tenant_zone(tenant)).date()
