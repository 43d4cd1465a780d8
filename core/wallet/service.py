"""Balances and history from the ledger; deposits and withdrawals through the custody service."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.custody import service as custody
from core.custody.models import CustodyInstruction
from core.extensions import db
from core.ledger.chart import account
from core.i18n import money
from core.ledger.errors import IdempotencyConflict, InsufficientFunds
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount, user_account_code

#: What a history line's entry kind means to the user.
KIND_LABELS = {
    "deposit": _l("Deposit"),
    "withdraw": _l("Withdrawal"),
    "freeze": _l("Frozen for a bid"),
    "unfreeze": _l("Unfrozen"),
    "transfer": _l("Transfer"),
    "batch_transfer": _l("Loan payment"),
}
STATE_LABELS = {"pending": _l("pending"), "posted": _l("done"), "voided": _l("refused")}
HISTORY_KINDS = tuple(KIND_LABELS)


class WalletRefused(Exception):
    """A wallet operation was refused; ``message`` says why, ``status`` is the HTTP status."""

    def __init__(self, code: str, message, status: int = 422):
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Balances:
    available: int
    frozen: int
    #: Money on its way out (withdrawals the bank has not confirmed yet).
    pending_out: int
    #: Money on its way in (deposits the bank has not confirmed yet).
    pending_in: int
    currency: str


def balances(user_id: int) -> Balances | None:
    """The user's custody balances, or None before their sub-account is open."""
    available = account(user_account_code(user_id, "available"))
    if available is None:
        return None
    frozen = account(user_account_code(user_id, "frozen"))
    return Balances(
        available=available.spendable,
        frozen=frozen.posted_balance if frozen is not None else 0,
        pending_out=available.pending_outflow,
        pending_in=available.pending_inflow,
        currency=available.currency,
    )


def _need_account(user_id: int) -> None:
    if account(user_account_code(user_id, "available")) is None:
        raise WalletRefused("no_custody_account", _l("Bind a bank card first: it opens your custody account."), 409)


def _result(instruction: CustodyInstruction) -> CustodyInstruction:
    if instruction.state == "refused":
        known = (instruction.reason or "") in custody.REFUSAL_TEXTS
        message = (_l("The bank refused it: %(reason)s. Nothing was moved.", reason=custody.refusal_text(instruction.reason))
                   if known else _l("The bank refused it. Nothing was moved; please try again later or contact customer "
                                    "service."))
        raise WalletRefused(instruction.reason or "refused", message, 422)
    return instruction


def deposit(user_id: int, amount: int, key: str) -> CustodyInstruction:
    """Ask the bank to move ``amount`` from the user's bound card into their custody account."""
    _need_account(user_id)
    try:
        return _result(custody.deposit(user_id, amount, key=f"wallet-deposit:{user_id}:{key}", memo="deposit"))
    except IdempotencyConflict:
        raise WalletRefused("idempotency_conflict", _l("This Idempotency-Key was already used for another request."), 409) from None


def withdraw(user_id: int, amount: int, key: str) -> CustodyInstruction:
    """Ask the bank to move ``amount`` from the user's available funds to their bound card."""
    _need_account(user_id)
    try:
        return _result(custody.withdraw(user_id, amount, key=f"wallet-withdraw:{user_id}:{key}", memo="withdrawal"))
    except InsufficientFunds as exc:
        available = exc.details.get("available")
        message = (_l("Your available funds (%(available)s) do not cover this withdrawal.",
                      available=money(available, custody.current_tenant().currency))
                   if isinstance(available, int) else _l("Your available funds do not cover this withdrawal."))
        raise WalletRefused("insufficient_funds", message, 422) from None
    except IdempotencyConflict:
        raise WalletRefused("idempotency_conflict", _l("This Idempotency-Key was already used for another request."), 409) from None


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    kind: str
    state: str
    bucket: str
    #: Positive: money came in to this bucket; negative: it went out.
    amount: int
    currency: str
    request_no: str | None
    memo: str


def history(user_id: int, *, kind: str | None = None, since: date | None = None, until: date | None = None,
            limit: int | None = None, offset: int = 0) -> list[HistoryLine]:
    """Every movement on the user's accounts, newest first; ``until`` is inclusive."""
    codes = [user_account_code(user_id, "available"), user_account_code(user_id, "frozen")]
    query = (
        select(JournalLine, JournalEntry, LedgerAccount)
        .join(JournalEntry, JournalLine.entry_id == JournalEntry.id)
        .join(LedgerAccount, JournalLine.account_id == LedgerAccount.id)
        .where(LedgerAccount.code.in_(codes))
        .order_by(JournalEntry.created_at.desc(), JournalEntry.id.desc(), JournalLine.id)
    )
    if kind:
        query = query.where(JournalEntry.kind == kind)
    if since:
        query = query.where(JournalEntry.created_at >= datetime.combine(since, time.min, tzinfo=timezone.utc))
    if until:
        query = query.where(JournalEntry.created_at < datetime.combine(until + timedelta(days=1), time.min, tzinfo=timezone.utc))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = []
    for line, entry, acct in db.session.execute(query).all():
        rows.append(HistoryLine(
            at=entry.created_at, kind=entry.kind, state=entry.state, bucket=acct.custody_bucket or acct.code.rsplit(":", 1)[-1],
            amount=-line.amount if acct.normal_side == "credit" else line.amount,
            currency=line.currency, request_no=entry.request_no, memo=entry.memo or "",
        ))
    return rows


def history_csv(lines: list[HistoryLine]) -> str:
    """The history as CSV: amounts in major units as exact decimals, ISO times."""
    from core.money import from_minor

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["time", "kind", "state", "bucket", "amount", "currency", "request_no"])
    for line in lines:
        writer.writerow([line.at.isoformat(), line.kind, line.state, line.bucket, str(from_minor(line.amount, line.currency)), line.currency, line.request_no or ""])
    return out.getvalue()
