"""The lending permissions (named at import, see core.accounts.roles) and who may see what of a loan."""
from __future__ import annotations

from sqlalchemy import select

from core.accounts.roles import PERMISSIONS, define_permission
from core.extensions import db

if "loans.first_review" not in PERMISSIONS:
    define_permission("loans.first_review", ("reviewer",), "Take the first review step of loan applications")
    define_permission("loans.risk_review", ("risk_officer",), "Take the risk officer's step of loan applications")
    define_permission("loans.staff_view", ("reviewer", "risk_officer", "finance", "support"), "See every loan")
    define_permission("loans.collect", ("risk_officer", "support"), "Write collection notes on overdue loans")

#: Statuses anyone may see a loan in (its public listing and disclosure).
PUBLIC_STATUSES = ("listed", "funded", "disbursed", "repaying", "overdue", "paid_off", "failed", "defaulted",
                   "written_off")


def is_party(loan, user) -> bool:
    """The borrower, or an investor who holds or held a claim (or a settled bid) on the loan."""
    from core.lending.models import Bid, Claim

    if user is None:
        return False
    if loan.borrower_id == user.id:
        return True
    if db.session.scalar(select(Claim.id).where(Claim.loan_id == loan.id, Claim.holder_id == user.id).limit(1)):
        return True
    return db.session.scalar(
        select(Bid.id).where(Bid.loan_id == loan.id, Bid.investor_id == user.id, Bid.state == "settled").limit(1)
    ) is not None


def is_investor_in(loan, user) -> bool:
    from core.lending.models import Bid

    if user is None:
        return False
    return db.session.scalar(select(Bid.id).where(Bid.loan_id == loan.id, Bid.investor_id == user.id).limit(1)) is not None


def may_view(loan, user) -> bool:
    """Public listings for anyone; applications for their borrower and staff who see loans."""
    if loan.status in PUBLIC_STATUSES:
        return True
    if user is None:
        return False
    return loan.borrower_id == user.id or _staff(user)


def _staff(user) -> bool:
    auth = getattr(user, "auth_session", None)
    return user.can("loans.staff_view") and (not user.is_staff or (auth is not None and auth.second_factor))
