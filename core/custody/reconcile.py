"""Daily reconciliation: the ledger against the custody bank's statement of one day.

For the statement day ``D`` the bank's lines are grouped by request number and
turned into their effect on each (sub-account, available|frozen); the ledger's
posted entries with a request number and value date ``D`` are turned into the
effect on the sub-accounts their accounts mirror. Then, by request number and
account:

* ``missing_in_ledger`` — the bank moved money the ledger has not posted
  (the note says when the entry is still pending: resolve the instruction);
* ``missing_at_bank`` — the ledger posted a movement the bank does not show;
* ``amount_differs`` — both moved money, by different amounts;
* ``balance_differs`` — a sub-account's closing balance at the bank is not the
  ledger's balance at the end of ``D`` (also ``platform:bank_clearing``
  against the total of every sub-account).

Each run is stored (:class:`ReconciliationRun` with its differences).

A day after today in the tenant's time zone has no statement yet: the
command line and the staff page call :func:`refuse_future_day` first, so a
mistyped date is refused instead of being recorded as a clean day.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select

from core.custody.instructions import current_tenant, instruction_by_request_no, provider_for
from core.custody.models import ReconciliationDifference, ReconciliationRun
from core.extensions import db
from core.ledger.balances import balances_as_of
from core.ledger.journal import writing
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount, platform_account_code
from core.tenancy.models import utcnow

__all__ = ["reconcile", "refuse_future_day", "FutureDay", "Difference"]

Key = tuple[str, str]  # (custody sub-account, "available" | "frozen")


class Difference(dict):
    """A plain mapping of one difference (the columns of ReconciliationDifference)."""


def _nonzero(effects: dict) -> dict:
    return {key: value for key, value in effects.items() if value}


def _bank_effects(statement) -> dict[str, dict[Key, int]]:
    effects: dict[str, dict[Key, int]] = defaultdict(lambda: defaultdict(int))
    for line in statement.lines:
        for account, d_available, d_frozen in line.effects():
            effects[line.request_no][(account, "available")] += d_available
            effects[line.request_no][(account, "frozen")] += d_frozen
    return {no: _nonzero(e) for no, e in effects.items()}


def _mirrors() -> dict[int, tuple[str, str, int]]:
    """account id → (custody sub-account, bucket, sign) of every account that mirrors the bank."""
    rows = db.session.execute(
        select(LedgerAccount.id, LedgerAccount.custody_account, LedgerAccount.custody_bucket,
               LedgerAccount.normal_side).where(LedgerAccount.custody_account.is_not(None))
    )
    return {i: (name, bucket, 1 if side == "debit" else -1) for i, name, bucket, side in rows}


def _ledger_effects(day: date, mirrors) -> tuple[dict[str, dict[Key, int]], int]:
    rows = db.session.execute(
        select(JournalEntry.id, JournalEntry.request_no, JournalLine.account_id, JournalLine.amount)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.state == "posted", JournalEntry.value_date == day, JournalEntry.request_no.is_not(None))
    ).all()
    effects: dict[str, dict[Key, int]] = defaultdict(lambda: defaultdict(int))
    entries = set()
    for entry_id, request_no, account_id, amount in rows:
        entries.add(entry_id)
        effects[request_no]  # a posted entry with no mirrored line still counts as "in the ledger"
        mirror = mirrors.get(account_id)
        if mirror is not None:
            name, bucket, sign = mirror
            effects[request_no][(name, bucket)] += sign * amount
    return {no: _nonzero(e) for no, e in effects.items()}, len(entries)


def _pending_note(request_no: str) -> str:
    instruction = instruction_by_request_no(request_no)
    if instruction is None:
        return "no such instruction in the ledger"
    if instruction.entry is not None and instruction.entry.state != "posted":
        return f"entry {instruction.entry.state}: instruction {instruction.state}"
    return f"instruction {instruction.state}"


def compare(day: date, statement, mirrors=None) -> tuple[list[Difference], int]:
    """Every difference between the bound tenant's ledger and ``statement`` (not stored)."""
    mirrors = _mirrors() if mirrors is None else mirrors
    bank = _bank_effects(statement)
    ledger, entry_count = _ledger_effects(day, mirrors)
    found: list[Difference] = []
    for request_no in sorted(set(bank) | set(ledger)):
        b, l = bank.get(request_no, {}), ledger.get(request_no)
        if l is None:
            note = _pending_note(request_no)
            for (account, bucket), amount in sorted(b.items()):
                found.append(Difference(kind="missing_in_ledger", request_no=request_no, account=account,
                                        bucket=bucket, ledger_amount=None, bank_amount=amount, note=note))
            continue
        if request_no not in bank:
            for (account, bucket), amount in sorted(l.items()):
                found.append(Difference(kind="missing_at_bank", request_no=request_no, account=account,
                                        bucket=bucket, ledger_amount=amount, bank_amount=None,
                                        note="posted in the ledger, not on the bank's statement"))
            continue
        for key in sorted(set(b) | set(l)):
            if b.get(key, 0) != l.get(key, 0):
                found.append(Difference(kind="amount_differs", request_no=request_no, account=key[0], bucket=key[1],
                                        ledger_amount=l.get(key, 0), bank_amount=b.get(key, 0), note=""))
    found.extend(_closing_differences(day, statement, mirrors))
    return found, entry_count


def _closing_differences(day: date, statement, mirrors) -> list[Difference]:
    as_of = balances_as_of(day)
    ledger: dict[Key, int] = defaultdict(int)
    for account_id, (name, bucket, sign) in mirrors.items():
        ledger[(name, bucket)] += sign * as_of.get(account_id, 0)
    bank: dict[Key, int] = {}
    for balance in statement.closing_balances:
        bank[(balance.account, "available")] = balance.available
        bank[(balance.account, "frozen")] = balance.frozen
    found = []
    for key in sorted(set(bank) | set(ledger)):
        if bank.get(key, 0) != ledger.get(key, 0):
            found.append(Difference(kind="balance_differs", request_no=None, account=key[0], bucket=key[1],
                                    ledger_amount=ledger.get(key, 0) if key in ledger else None,
                                    bank_amount=bank.get(key), note="closing balance"))
    clearing = db.session.execute(
        select(LedgerAccount.id).where(LedgerAccount.code == platform_account_code("bank_clearing"))
    ).scalar()
    if clearing is not None:
        ledger_total = as_of.get(clearing, 0)
        bank_total = sum(b.available + b.frozen for b in statement.closing_balances)
        if ledger_total != bank_total:
            found.append(Difference(kind="balance_differs", request_no=None,
                                    account=platform_account_code("bank_clearing"), bucket="total",
                                    ledger_amount=ledger_total, bank_amount=bank_total,
                                    note="all money at the bank"))
    return found


class FutureDay(ValueError):
    """The statement day asked for is after today in the tenant's time zone."""

    def __init__(self, day: date, today: date):
        super().__init__(f"{day.isoformat()} is after today ({today.isoformat()}); the bank has no statement for it yet")
        self.day, self.today = day, today


def refuse_future_day(day: date, tenant=None) -> None:
    """Raise :class:`FutureDay` when ``day`` is after today in the (bound) tenant's time zone."""
    from core.lending.lifecycle import tenant_today

    today = tenant_today(tenant)
    if day > today:
        raise FutureDay(day, today)


def reconcile(day: date, *, provider=None) -> ReconciliationRun:
    """Compare the bound tenant's ledger with the bank's statement of ``day``; store and return the run."""
    if not isinstance(day, date):
        raise TypeError("day must be a datetime.date")
    tenant = current_tenant()
    provider = provider or provider_for(tenant)
    started = utcnow()
    statement = provider.statement(day, tenant.currency)
    differences, entry_count = compare(day, statement)
    with writing():
        run = ReconciliationRun(
            day=day, currency=tenant.currency, provider=getattr(provider, "name", "") or "",
            status="differences" if differences else "clean", bank_lines=len(statement.lines),
            ledger_entries=entry_count, difference_count=len(differences), started_at=started,
            finished_at=utcnow(),
        )
        db.session.add(run)
        db.session.flush()
        db.session.add_all(ReconciliationDifference(run_id=run.id, **d) for d in differences)
        db.session.flush()
        run_id = run.id
    return db.session.get(ReconciliationRun, run_id)
