"""The books as a beancount file (``lendkit ledger export --format beancount``).

* one ``open`` directive per account, named from its kind and code
  (``user:42:available`` → ``Liabilities:User:42:Available``), with its code as metadata;
* one transaction per posted entry, dated by its value date, one posting per
  journal line, amounts in major units converted exactly (``core.money.from_minor``);
* a ``balance`` assertion per account the day after the last entry, stating the
  cached balance, so ``bean-check`` also proves that cache = sum of lines.

Pending and voided entries are not part of the books and are left out.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import TextIO

from sqlalchemy import select

from core.extensions import db
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount
from core.money import from_minor
from core.tenancy.models import Tenant
from core.tenancy.scoping import current_tenant_id

__all__ = ["beancount_name", "export_beancount"]

ROOTS = {"asset": "Assets", "liability": "Liabilities", "equity": "Equity", "income": "Income", "expense": "Expenses"}


def _component(part: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", part) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) or "X"
    return name if re.match(r"[A-Z0-9]", name) else "X" + name


def beancount_name(kind: str, code: str) -> str:
    """The beancount account name of a ledger account: ``Liabilities:User:42:Available``."""
    return ":".join([ROOTS[kind]] + [_component(part) for part in code.split(":")])


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _amount(amount: int, currency: str) -> str:
    return f"{format(from_minor(amount, currency), 'f')} {currency}"


def export_beancount(out: TextIO) -> dict[str, int]:
    """Write the bound tenant's books to ``out``; return ``{"accounts", "transactions", "postings"}``."""
    tenant = db.session.get(Tenant, current_tenant_id())
    accounts = db.session.scalars(select(LedgerAccount).order_by(LedgerAccount.id)).all()
    names: dict[int, str] = {}
    used: set[str] = set()
    for account in accounts:
        name = beancount_name(account.kind, account.code)
        if name in used:
            name = f"{name}-{account.id}"
        used.add(name)
        names[account.id] = name

    first_use: dict[int, object] = {}
    for account_id, day in db.session.execute(
        select(JournalLine.account_id, JournalEntry.value_date)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.state == "posted")
        .order_by(JournalEntry.value_date)
    ):
        first_use.setdefault(account_id, day)

    out.write(f"; lendkit books of tenant {tenant.slug} ({tenant.name}); amounts in major units\n")
    out.write(f"option \"title\" {_quote(tenant.name)}\n")
    out.write(f"option \"operating_currency\" {_quote(tenant.currency)}\n\n")
    opened_on = {}
    for account in accounts:
        opened = account.created_at.date()
        if account.id in first_use and first_use[account.id] < opened:
            opened = first_use[account.id]
        opened_on[account.id] = opened
        out.write(f"{opened.isoformat()} open {names[account.id]} {account.currency}\n")
        out.write(f"  code: {_quote(account.code)}\n")
        if account.custody_account:
            out.write(f"  custody: {_quote(account.custody_account + ':' + account.custody_bucket)}\n")
    out.write("\n")

    transactions = postings = 0
    last_day = None
    current = None
    rows = db.session.execute(
        select(JournalEntry.id, JournalEntry.value_date, JournalEntry.kind, JournalEntry.memo,
               JournalEntry.idempotency_key, JournalEntry.request_no, JournalEntry.reversal_of,
               JournalLine.account_id, JournalLine.amount, JournalLine.currency)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.state == "posted")
        .order_by(JournalEntry.value_date, JournalEntry.id, JournalLine.id)
        .execution_options(yield_per=2000)
    )
    for (entry_id, day, kind, memo, key, request_no, reversal_of, account_id, amount, currency) in rows:
        if entry_id != current:
            current = entry_id
            transactions += 1
            last_day = day
            out.write(f"\n{day.isoformat()} * {_quote(kind)} {_quote(memo or kind)}\n")
            out.write(f"  entry: {_quote(entry_id)}\n  key: {_quote(key)}\n")
            if request_no:
                out.write(f"  request_no: {_quote(request_no)}\n")
            if reversal_of:
                out.write(f"  reversal_of: {_quote(reversal_of)}\n")
        out.write(f"  {names[account_id]}  {_amount(amount, currency)}\n")
        postings += 1

    if last_day is not None:
        check_day = max([last_day + timedelta(days=1), *opened_on.values()]).isoformat()
        out.write("\n")
        for account in accounts:
            out.write(f"{check_day} balance {names[account.id]}  {_amount(account.balance, account.currency)}\n")
    return {"accounts": len(accounts), "transactions": transactions, "postings": postings}
