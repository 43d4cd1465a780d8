"""Balances derived from journal lines, and the checks that the books hold together.

The cached columns of :class:`LedgerAccount` exist for speed and locking;
the lines are the truth. :func:`verify_balances` lists every account whose
cache disagrees with its lines, :func:`unbalanced_entries` every entry whose
lines do not sum to zero per currency. Both should always be empty.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select

from core.extensions import db
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount

__all__ = [
    "Derived",
    "Mismatch",
    "derived_balances",
    "verify_balances",
    "unbalanced_entries",
    "balances_as_of",
    "verify",
]


@dataclass(frozen=True)
class Derived:
    """Sums of an account's lines: posted, and the pending debits and credits (both >= 0)."""

    balance: int
    pending_debit: int
    pending_credit: int


@dataclass(frozen=True)
class Mismatch:
    """An account whose cached balance is not the sum of its lines."""

    code: str
    cached: Derived
    derived: Derived

    def __str__(self) -> str:
        return f"{self.code}: cached {self.cached} but the lines give {self.derived}"


def derived_balances(account_ids=None) -> dict[int, Derived]:
    """``{account id: Derived}`` from the lines (every account with lines, or those named)."""
    amount, state = JournalLine.amount, JournalEntry.state
    stmt = (
        select(
            JournalLine.account_id,
            func.coalesce(func.sum(case((state == "posted", amount), else_=0)), 0),
            func.coalesce(func.sum(case(((state == "pending") & (amount > 0), amount), else_=0)), 0),
            func.coalesce(func.sum(case(((state == "pending") & (amount < 0), -amount), else_=0)), 0),
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .group_by(JournalLine.account_id)
    )
    if account_ids is not None:
        stmt = stmt.where(JournalLine.account_id.in_(list(account_ids)))
    return {row[0]: Derived(int(row[1]), int(row[2]), int(row[3])) for row in db.session.execute(stmt)}


def verify_balances() -> list[Mismatch]:
    """Every account of the bound tenant whose cached balance disagrees with its lines."""
    derived = derived_balances()
    zero = Derived(0, 0, 0)
    problems = []
    rows = db.session.execute(
        select(LedgerAccount.id, LedgerAccount.code, LedgerAccount.balance, LedgerAccount.pending_debit,
               LedgerAccount.pending_credit).order_by(LedgerAccount.code)
    )
    for account_id, code, balance, pending_debit, pending_credit in rows:
        cached = Derived(balance, pending_debit, pending_credit)
        truth = derived.get(account_id, zero)
        if cached != truth:
            problems.append(Mismatch(code, cached, truth))
    return problems


def unbalanced_entries() -> list[tuple[int, str, int]]:
    """``(entry id, currency, sum)`` of every entry whose lines do not sum to zero in a currency."""
    total = func.sum(JournalLine.amount)
    stmt = (
        select(JournalLine.entry_id, JournalLine.currency, total)
        .group_by(JournalLine.entry_id, JournalLine.currency)
        .having(total != 0)
        .order_by(JournalLine.entry_id)
    )
    return [(entry_id, currency, int(amount)) for entry_id, currency, amount in db.session.execute(stmt)]


def balances_as_of(day: date) -> dict[int, int]:
    """``{account id: posted balance}`` counting entries whose value date is ``day`` or earlier."""
    stmt = (
        select(JournalLine.account_id, func.sum(JournalLine.amount))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.state == "posted", JournalEntry.value_date <= day)
        .group_by(JournalLine.account_id)
    )
    return {account_id: int(total) for account_id, total in db.session.execute(stmt)}


def verify() -> list[str]:
    """Every problem of the bound tenant's books, one sentence each (empty when they hold)."""
    problems = [str(m) for m in verify_balances()]
    problems += [f"entry {entry_id}: lines sum to {amount} {currency}, not zero"
                 for entry_id, currency, amount in unbalanced_entries()]
    for account in db.session.scalars(select(LedgerAccount).where(LedgerAccount.custody_bucket.is_not(None))):
        if account.spendable < 0:
            problems.append(f"{account.code}: spendable balance {account.spendable} is below zero")
    return problems
