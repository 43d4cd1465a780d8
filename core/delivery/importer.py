"""Base-data import: a client's users, loans in progress and past repayments from its previous system.

``lendkit tenant import SLUG --users users.csv --loans loans.csv --repayments repayments.csv [--dry-run]``

The client's users are already identity-verified, and their custody
sub-accounts, with money in them, already exist at the client's bank. The
import therefore:

1. reads every file and checks **every** row (:func:`clean_user`,
   :func:`clean_loan`, :func:`clean_repayment` are pure functions over one
   row), then checks the rows together and against what is here already
   (unknown or duplicate ids, numbers used by another account, schedules,
   the loans' statuses) and against the bank (each new user's sub-account
   exists and holds exactly the balances given). Every problem of every file
   is reported at once as ``file:line: column: problem``;
2. writes nothing at all when anything is wrong, or when ``--dry-run`` asks
   only for the check;
3. otherwise applies everything in ONE database transaction
   (:func:`apply_plan`), then reconciles: the ledger balance of every
   imported sub-account must equal the bank's (:func:`reconcile_imported`).

Rows are keyed by the previous system's ids (a repayment by
``<loan id>#<installment number>``), recorded in
:class:`~core.delivery.models.ImportedRecord` with a digest of the row: the
same files imported again change nothing, and a row whose content differs
from what was imported under its id is refused.

Money: the bank holds the users' money already, so the opening balances are
one posted ledger entry per import (``Dr platform:bank_clearing / Cr
user:<id>:available``, ``…:frozen`` for each new user; kind
``opening_balance``, key ``import:opening:batch:<batch id>``), never a custody
instruction, and not announced through ``money_moved`` (nothing moved at the
bank: no "you received" text to every user). ``platform:bank_clearing`` is the books' "all money at the bank",
which the daily reconciliation compares with the total at the bank; posting
the opening balances against it keeps that comparison true. Past repayments
moved money in the previous system, whose effect is in those balances
already: they are recorded (installments paid, repayment rows and their
distribution among the claims) with no custody instruction and no entry.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.extensions import db

__all__ = [
    "FILE_KINDS",
    "COLUMNS",
    "Problem",
    "ImportRefused",
    "BankUnreachable",
    "Table",
    "read_table",
    "clean_user",
    "clean_loan",
    "clean_repayment",
    "check_import",
    "apply_plan",
    "run_import",
    "reconcile_imported",
]

FILE_KINDS = ("users", "loans", "repayments")
#: Every column of each file and whether a value is required (``False``: may be left blank).
COLUMNS: dict[str, dict[str, bool]] = {
    "users": {
        "external_id": True, "kind": True, "mobile": True, "name": True, "company_name": False, "id_number": True,
        "roles": True, "custody_account": True, "bank_card": True, "bank_name": False, "available": True,
        "frozen": True, "locale": False,
    },
    "loans": {
        "external_id": True, "borrower": True, "product": True, "amount": True, "annual_rate": True, "months": True,
        "method": True, "disbursed_on": True, "status": True, "holders": True, "purpose": False,
    },
    "repayments": {
        "loan": True, "installment": True, "paid_on": True, "principal": True, "interest": True,
        "management_fee": False, "penalty": False,
    },
}
#: The statuses a loan in progress may be imported in.
IMPORT_STATUSES = ("repaying", "overdue", "paid_off")
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CHUNK = 500


# --------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One problem: ``file:line: column: message`` (line 1 is the header)."""

    file: str
    line: int
    column: str
    message: object

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.message}"


class ImportRefused(Exception):
    """The files have problems; nothing was written. ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class BankUnreachable(Exception):
    """The custody bank could not be asked; nothing was written."""

    def __init__(self, provider: str, reason: str):
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


# --------------------------------------------------------------------- reading


@dataclass
class Row:
    line: int
    values: dict[str, str]


@dataclass
class Table:
    """One file: its kind, the name it is reported by, its SHA-256 and its rows."""

    kind: str
    name: str
    digest: str
    rows: list[Row] = field(default_factory=list)


def read_table(kind: str, path) -> tuple[Table, list[Problem]]:
    """Read the CSV ``path`` of ``kind`` (UTF-8, a BOM allowed); the header must name the columns of :data:`COLUMNS`."""
    path = Path(path)
    data = path.read_bytes()
    table = Table(kind, path.name, hashlib.sha256(data).hexdigest())
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return table, [Problem(table.name, 1, "-", _l("the file is not UTF-8 text"))]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(h or "").strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    problems = []
    for column in COLUMNS[kind]:
        if column not in header:
            problems.append(Problem(table.name, 1, column, _l("missing column")))
    for column in header:
        if column not in COLUMNS[kind]:
            problems.append(Problem(table.name, 1, column or "-", _l("unknown column")))
    if problems:
        return table, problems
    for raw in reader:
        values = {k: (v or "").strip() for k, v in raw.items() if k in COLUMNS[kind]}
        if raw.get(None):
            problems.append(Problem(table.name, reader.line_num, "-", _l("more values than columns")))
        if not any(values.values()):
            continue
        table.rows.append(Row(reader.line_num, values))
    return table, problems


def _digest(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


# --------------------------------------------------------------------- one row at a time (pure)


def _required(values: dict, kind: str, problems: list) -> None:
    for column, required in COLUMNS[kind].items():
        if required and not values.get(column):
            problems.append((column, _l("a value is required")))


def _amount(text: str, column: str, problems: list, *, positive: bool = False) -> int | None:
    if not text:
        return None
    if not re.fullmatch(r"\d{1,15}", text):
        problems.append((column, _l("%(value)s is not an amount in minor units (a whole number such as 150000)",
                                    value=text)))
        return None
    amount = int(text)
    if positive and amount <= 0:
        problems.append((column, _l("must be more than 0")))
        return None
    return amount


def _day(text: str, column: str, problems: list, today: date) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems.append((column, _l("%(value)s is not a date like 2025-03-01", value=text)))
        return None
    if day > today:
        problems.append((column, _l("%(value)s is in the future", value=text)))
        return None
    return day


def _external_id(text: str, column: str, problems: list) -> str | None:
    if text and not _EXTERNAL_ID.fullmatch(text):
        problems.append((column, _l("an id is 1 to 64 letters, digits and . _ : / -")))
        return None
    return text or None


@dataclass(frozen=True)
class UserRow:
    external_id: str
    kind: str
    mobile: str
    name: str
    company_name: str | None
    id_number: str
    roles: tuple[str, ...]
    custody_account: str
    bank_card: str
    bank_name: str
    available: int
    frozen: int
    locale: str | None

    def content(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def clean_user(values: dict, *, today: date, locales=("en", "zh_CN")) -> tuple[UserRow | None, list[tuple[str, object]]]:
    """One row of users.csv → ``(UserRow, [])`` or ``(None, [(column, problem), …])``."""
    from core.accounts.identity import (
        InvalidIdentity,
        normalize_cn_mobile,
        validate_bank_card,
        validate_resident_id,
        validate_uscc,
    )
    from core.accounts.kyc import ADULT_AGE, clean_name
    from core.accounts.models import CUSTOMER_ROLES, USER_KINDS
    from core.accounts.policy import AccountRefused

    problems: list = []
    _required(values, "users", problems)
    external_id = _external_id(values.get("external_id", ""), "external_id", problems)
    kind = values.get("kind", "")
    if kind and kind not in USER_KINDS:
        problems.append(("kind", _l("must be person or enterprise")))
        kind = ""
    mobile = None
    if values.get("mobile"):
        try:
            mobile = normalize_cn_mobile(values["mobile"])
        except InvalidIdentity as exc:
            problems.append(("mobile", exc.message))
    name = None
    if values.get("name"):
        try:
            name = clean_name(values["name"], "name")
        except AccountRefused as exc:
            problems.append(("name", exc.message))
    company = " ".join((values.get("company_name") or "").split()) or None
    if kind == "enterprise" and not company:
        problems.append(("company_name", _l("an enterprise needs its registered company name")))
    elif kind == "person" and company:
        problems.append(("company_name", _l("a person has no company name; leave it blank")))
    elif company and len(company) > 200:
        problems.append(("company_name", _l("at most 200 characters")))
    number = None
    if values.get("id_number") and kind:
        try:
            if kind == "person":
                resident = validate_resident_id(values["id_number"], today=today)
                if resident.age(today) < ADULT_AGE:
                    problems.append(("id_number", _l("the holder is under 18")))
                number = resident.number
            else:
                number = validate_uscc(values["id_number"]).code
        except InvalidIdentity as exc:
            problems.append(("id_number", exc.message))
    roles = tuple(dict.fromkeys(r.strip() for r in re.split(r"[;,| ]+", values.get("roles", "")) if r.strip()))
    if values.get("roles") and (not roles or any(r not in CUSTOMER_ROLES for r in roles)):
        problems.append(("roles", _l("roles are borrower and/or investor, separated by ;")))
    account = values.get("custody_account", "")
    if account and not _ACCOUNT.fullmatch(account):
        problems.append(("custody_account", _l("a sub-account number is 1 to 64 letters, digits and . _ -")))
    card = None
    if values.get("bank_card"):
        try:
            card = validate_bank_card(values["bank_card"])
        except InvalidIdentity as exc:
            problems.append(("bank_card", exc.message))
    bank_name = " ".join((values.get("bank_name") or "").split())
    if len(bank_name) > 100:
        problems.append(("bank_name", _l("at most 100 characters")))
    available = _amount(values.get("available", ""), "available", problems)
    frozen = _amount(values.get("frozen", ""), "frozen", problems)
    locale = values.get("locale") or None
    if locale and locale not in locales:
        problems.append(("locale", _l("must be one of %(locales)s", locales=", ".join(locales))))
    if problems:
        return None, problems
    return UserRow(external_id, kind, mobile, name, company, number, roles, account, card, bank_name, available,
                   frozen, locale), []


@dataclass(frozen=True)
class LoanRow:
    external_id: str
    borrower: str
    product: str
    amount: int
    annual_rate: Decimal
    months: int
    method: str
    disbursed_on: date
    status: str
    holders: tuple[tuple[str, int], ...]
    purpose: str

    def content(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["annual_rate"] = str(self.annual_rate)
        data["holders"] = [list(h) for h in self.holders]
        return data


def parse_holders(text: str) -> tuple[list[tuple[str, int]], list]:
    """``INV-1:500000;INV-2:500000`` → ``[("INV-1", 500000), ("INV-2", 500000)]`` and problems."""
    holders, problems = [], []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        external_id, sep, amount = part.rpartition(":")
        if not sep or not _EXTERNAL_ID.fullmatch(external_id) or not re.fullmatch(r"\d{1,15}", amount) or int(amount) <= 0:
            problems.append(("holders", _l("%(part)s is not investor id:amount (e.g. INV-1:500000)", part=part)))
            continue
        holders.append((external_id, int(amount)))
    return holders, problems


def clean_loan(values: dict, *, today: date) -> tuple[LoanRow | None, list[tuple[str, object]]]:
    """One row of loans.csv → ``(LoanRow, [])`` or ``(None, problems)`` (the product is checked later)."""
    from core.lending.schedule import MAX_MONTHS, METHODS

    problems: list = []
    _required(values, "loans", problems)
    external_id = _external_id(values.get("external_id", ""), "external_id", problems)
    borrower = _external_id(values.get("borrower", ""), "borrower", problems)
    amount = _amount(values.get("amount", ""), "amount", problems, positive=True)
    rate = None
    if values.get("annual_rate"):
        try:
            rate = Decimal(values["annual_rate"])
            if not rate.is_finite() or not Decimal(0) <= rate < Decimal(1):
                raise InvalidOperation
        except InvalidOperation:
            problems.append(("annual_rate", _l("a rate is a decimal from 0 to below 1, such as 0.12")))
            rate = None
    months = None
    if values.get("months"):
        if not values["months"].isdigit() or not 1 <= int(values["months"]) <= MAX_MONTHS:
            problems.append(("months", _l("a term is 1 to %(max)d months", max=MAX_MONTHS)))
        else:
            months = int(values["months"])
    method = values.get("method", "")
    if method and method not in METHODS:
        problems.append(("method", _l("must be one of %(methods)s", methods=", ".join(METHODS))))
    disbursed_on = _day(values.get("disbursed_on", ""), "disbursed_on", problems, today)
    status = values.get("status", "")
    if status and status not in IMPORT_STATUSES:
        problems.append(("status", _l("must be one of %(statuses)s", statuses=", ".join(IMPORT_STATUSES))))
    holders, holder_problems = parse_holders(values.get("holders", ""))
    problems += holder_problems
    seen = set()
    for holder, _share in holders:
        if holder in seen:
            problems.append(("holders", _l("%(id)s is named twice", id=holder)))
        seen.add(holder)
    if holders and amount and not holder_problems and sum(a for _h, a in holders) != amount:
        problems.append(("holders", _l("the claims sum to %(sum)d, not the amount %(amount)d",
                                       sum=sum(a for _h, a in holders), amount=amount)))
    purpose = " ".join((values.get("purpose") or "").split())
    if len(purpose) > 500:
        problems.append(("purpose", _l("at most 500 characters")))
    if problems:
        return None, problems
    return LoanRow(external_id, borrower, values["product"], amount, rate, months, method, disbursed_on, status,
                   tuple(holders), purpose), []


@dataclass(frozen=True)
class RepaymentRow:
    loan: str
    installment: int
    paid_on: date
    principal: int
    interest: int
    management_fee: int | None
    penalty: int

    @property
    def key(self) -> str:
        return f"{self.loan}#{self.installment}"

    def content(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def clean_repayment(values: dict, *, today: date) -> tuple[RepaymentRow | None, list[tuple[str, object]]]:
    """One row of repayments.csv → ``(RepaymentRow, [])`` or ``(None, problems)`` (the schedule is checked later)."""
    problems: list = []
    _required(values, "repayments", problems)
    loan = _external_id(values.get("loan", ""), "loan", problems)
    number = None
    if values.get("installment"):
        if not values["installment"].isdigit() or int(values["installment"]) < 1:
            problems.append(("installment", _l("an installment number is 1, 2, …")))
        else:
            number = int(values["installment"])
    paid_on = _day(values.get("paid_on", ""), "paid_on", problems, today)
    principal = _amount(values.get("principal", ""), "principal", problems)
    interest = _amount(values.get("interest", ""), "interest", problems)
    management_fee = _amount(values.get("management_fee", ""), "management_fee", problems)
    penalty = _amount(values.get("penalty", ""), "penalty", problems) or 0
    if problems:
        return None, problems
    return RepaymentRow(loan, number, paid_on, principal, interest, management_fee, penalty), []


# --------------------------------------------------------------------- the plan


@dataclass
class LoanPlan:
    row: LoanRow
    line: int
    digest: str
    product: dict
    schedule: object
    management_fee: int
    status: str = ""


@dataclass
class Plan:
    """What a clean import creates; ``unchanged`` counts rows imported before with the same content."""

    tenant_id: int
    today: date
    tables: dict[str, Table]
    users: list[tuple[UserRow, str]] = field(default_factory=list)
    loans: list[LoanPlan] = field(default_factory=list)
    #: (row, digest, loan external id) in installment order per loan.
    repayments: list[tuple[RepaymentRow, str]] = field(default_factory=list)
    unchanged: dict[str, int] = field(default_factory=lambda: {"user": 0, "loan": 0, "repayment": 0})
    #: Earlier-imported loans whose status the new repayments change: {loan id: new status}.
    status_changes: dict[int, str] = field(default_factory=dict)

    @property
    def opening_total(self) -> int:
        return sum(u.available + u.frozen for u, _d in self.users)

    @property
    def empty(self) -> bool:
        return not (self.users or self.loans or self.repayments)

    def counts(self) -> dict[str, int]:
        return {"user": len(self.users), "loan": len(self.loans), "repayment": len(self.repayments)}


def _imported(kind: str) -> dict:
    from core.delivery.models import ImportedRecord

    return {r.external_id: r for r in db.session.scalars(select(ImportedRecord).where(ImportedRecord.kind == kind))}


def _in_chunks(column, values, query):
    values = list(values)
    for start in range(0, len(values), _CHUNK):
        yield from db.session.execute(query.where(column.in_(values[start:start + _CHUNK]))).all()


def _provider(tenant):
    from core.custody.instructions import provider_for

    name = ((tenant.config.get("providers") or {}).get("custody") or {}).get("name", "?")
    try:
        return provider_for(tenant), name
    except Exception as exc:  # noqa: BLE001 - a bank that cannot even be set up is unreachable
        raise BankUnreachable(name, getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}") from None


def _ask_bank(provider, name: str, question: str, account: str):
    """``provider.<question>(account)``; None when the bank has no such account; BankUnreachable otherwise."""
    from core.custody.provider import CustodyError

    try:
        return getattr(provider, question)(account)
    except CustodyError as exc:
        if exc.reason == "unknown_account":
            return None
        raise BankUnreachable(name, exc.reason) from None
    except Exception as exc:  # noqa: BLE001 - any other failure means the bank could not be asked
        raise BankUnreachable(name, f"{type(exc).__name__}: {exc}") from None


def bank_balance(provider, name: str, account: str):
    """The bank's Balance of ``account``, None when the bank has no such account; BankUnreachable otherwise."""
    return _ask_bank(provider, name, "balance", account)


def bank_holder(provider, name: str, account: str):
    """Whose ``account`` is at the bank (:class:`AccountHolder`), None when the bank cannot tell."""
    return _ask_bank(provider, name, "holder", account)


def record_nothing(tenant, operator: str):
    """Record that the client brings no base data (a new platform): an empty :class:`ImportBatch`;
    returns its id. ValueError when base data was imported already."""
    from core.delivery.models import ImportBatch
    from core.tenancy import tenant_context

    with tenant_context(tenant):
        if db.session.scalar(select(func.count(ImportBatch.id))):
            raise ValueError("base data was imported already; there is nothing to record")
        batch = ImportBatch(digests={}, files={}, created={}, unchanged={}, opening_total=0, operator=operator)
        db.session.add(batch)
        db.session.commit()
        return batch.id


def check_import(tenant, paths: dict[str, Path | None], *, as_of: date | None = None) -> Plan:
    """Check the files against each other, this tenant's data and the bank; the :class:`Plan`, or
    :class:`ImportRefused` with every problem, or :class:`BankUnreachable`. Writes nothing.

    ``as_of`` is the cut-over day the previous system's data describes (default
    today in the tenant's zone): no date may be after it, and the loans'
    statuses are judged on it. A tenant must be bound (``tenant_context(tenant)``).
    """
    from core.lending.lifecycle import tenant_today

    today = tenant_today(tenant)
    if as_of is not None and as_of > today:
        raise ImportRefused([Problem("--as-of", 0, "-", _l("%(value)s is in the future", value=as_of.isoformat()))])
    today = as_of or today
    problems: list[Problem] = []
    tables: dict[str, Table] = {}
    for kind in FILE_KINDS:
        if paths.get(kind) is not None:
            table, found = read_table(kind, paths[kind])
            tables[kind] = table
            problems += found
    if problems:
        raise ImportRefused(problems)
    plan = Plan(tenant_id=tenant.id, today=today, tables=tables)
    users = _check_users(tenant, plan, tables.get("users"), problems)
    loans = _check_loans(tenant, plan, tables.get("loans"), users, problems)
    _check_repayments(tenant, plan, tables.get("repayments"), loans, problems)
    if problems:
        order = {t.name: i for i, t in enumerate(tables.values())}
        problems.sort(key=lambda p: (order.get(p.file, 99), p.line))
        raise ImportRefused(problems)
    return plan


def _check_users(tenant, plan: Plan, table: Table | None, problems: list) -> dict:
    """Returns ``{external id: ("new", UserRow) | ("bad", None)}`` for the loans' checks (:func:`_person` adds
    ``("here", (kind, roles, user id))`` for users of earlier imports as it finds them)."""
    from core.accounts import crypto
    from core.accounts.models import BankCard, KycApplication, User
    from core.ledger.models import LedgerAccount

    known: dict = {}
    earlier = _imported("user")
    if table is None:
        return known
    new: list[tuple[Row, UserRow, str]] = []
    seen: dict[str, dict] = {"external_id": {}, "mobile": {}, "id_number": {}, "bank_card": {}, "custody_account": {}}

    def note(row: Row, column: str, message) -> None:
        problems.append(Problem(table.name, row.line, column, message))

    for row in table.rows:
        cleaned, found = clean_user(row.values, today=plan.today, locales=tuple(tenant.locales))
        for column, message in found:
            note(row, column, message)
        ext = row.values.get("external_id", "")
        if cleaned is None:
            if ext:
                known.setdefault(ext, ("bad", None))
            continue
        duplicate = False
        for column in seen:
            value = getattr(cleaned, column)
            if value in seen[column]:
                note(row, column, _l("the same as on line %(line)d", line=seen[column][value]))
                duplicate = True
            else:
                seen[column][value] = row.line
        if duplicate:
            continue
        digest = _digest(cleaned.content())
        before = _imported_before(earlier.get(cleaned.external_id), digest, cleaned.external_id, plan, "user",
                                  lambda message: note(row, "external_id", message))
        if before is not None:
            if before == "changed":
                known[cleaned.external_id] = ("bad", None)
            continue
        known[cleaned.external_id] = ("new", cleaned)
        new.append((row, cleaned, digest))
    # numbers used by accounts already here (the blind indexes, as the accounts module keeps them)
    index = {}
    for row, user, _digest_ in new:
        index[row.line] = {
            "mobile": crypto.blind_index(tenant, "mobile", user.mobile),
            "id_number": crypto.blind_index(tenant, "id_number" if user.kind == "person" else "uscc", user.id_number),
            "bank_card": crypto.blind_index(tenant, "bank_card", user.bank_card),
        }
    taken_mobiles = {r[0] for r in _in_chunks(User.mobile_index, {i["mobile"] for i in index.values()},
                                              select(User.mobile_index))}
    ids = {i["id_number"] for i in index.values()}
    taken_ids = {r[0] for r in _in_chunks(KycApplication.id_number_index, ids,
                                          select(KycApplication.id_number_index)
                                          .where(KycApplication.status.in_(("pending", "approved"))))}
    taken_ids |= {r[0] for r in _in_chunks(KycApplication.uscc_index, ids,
                                           select(KycApplication.uscc_index)
                                           .where(KycApplication.status.in_(("pending", "approved"))))}
    taken_cards = {r[0] for r in _in_chunks(BankCard.card_index, {i["bank_card"] for i in index.values()},
                                            select(BankCard.card_index))}
    taken_accounts = {r[0] for r in _in_chunks(LedgerAccount.custody_account, {u.custody_account for _r, u, _d in new},
                                               select(LedgerAccount.custody_account))}
    clean: list[tuple[Row, UserRow, str]] = []
    for row, user, digest in new:
        taken = [
            ("mobile", index[row.line]["mobile"] in taken_mobiles, _l("another account here uses this mobile number")),
            ("id_number", index[row.line]["id_number"] in taken_ids,
             _l("another account here uses this identity number")),
            ("bank_card", index[row.line]["bank_card"] in taken_cards, _l("this card is bound to another account here")),
            ("custody_account", user.custody_account in taken_accounts,
             _l("this sub-account is linked to another account here")),
        ]
        for column, _taken, message in (t for t in taken if t[1]):
            note(row, column, message)
        if any(t[1] for t in taken):
            known[user.external_id] = ("bad", None)
        else:
            clean.append((row, user, digest))
    if clean:
        provider, name = _provider(tenant)
        currency = tenant.currency
        from core.ledger.errors import major

        for row, user, digest in clean:
            balance = bank_balance(provider, name, user.custody_account)
            if balance is None:
                note(row, "custody_account", _l("the bank has no sub-account %(account)s", account=user.custody_account))
                known[user.external_id] = ("bad", None)
                continue
            wrong = False
            holder = bank_holder(provider, name, user.custody_account)
            if holder is not None and (holder.id_last4 != user.id_number[-4:] or holder.card_last4 != user.bank_card[-4:]):
                note(row, "custody_account", _l("the bank's sub-account %(account)s belongs to identity …%(id)s with "
                                                "card …%(card)s, not to this row's holder", account=user.custody_account,
                                                id=holder.id_last4, card=holder.card_last4))
                wrong = True
            for column in ("available", "frozen"):
                if getattr(balance, column) != getattr(user, column):
                    note(row, column, _l("the bank holds %(bank)s, not %(given)s", bank=major(getattr(balance, column), currency),
                                         given=major(getattr(user, column), currency)))
                    wrong = True
            if wrong:
                known[user.external_id] = ("bad", None)
                continue
            plan.users.append((user, digest))
    return known


def _person(known: dict, external_id: str):
    """``(kind, roles, user id or None)`` of a user named in a loan, or None (unknown) / "bad"."""
    from core.accounts.models import User
    from core.delivery.models import ImportedRecord

    entry = known.get(external_id)
    if entry is not None:
        state, value = entry
        if state == "bad":
            return "bad"
        if state == "new":
            return value.kind, set(value.roles), None
        if state == "here":
            return value
    record = db.session.scalar(select(ImportedRecord).where(ImportedRecord.kind == "user",
                                                            ImportedRecord.external_id == external_id))
    user = db.session.get(User, record.target_id) if record is not None else None
    found = (user.kind, user.role_names, user.id) if user is not None else None
    known[external_id] = ("here", found)
    return found


def _check_loans(tenant, plan: Plan, table: Table | None, users: dict, problems: list) -> dict:
    """Returns ``{external id: LoanPlan | Loan | "bad"}`` for the repayments' checks."""
    from core.lending.products import product_of
    from core.lending.schedule import build_schedule
    from core.money import apply_rate

    known: dict = {}
    if table is None:
        return known
    earlier = _imported("loan")
    seen: dict[str, int] = {}

    def note(row: Row, column: str, message) -> None:
        problems.append(Problem(table.name, row.line, column, message))

    for row in table.rows:
        cleaned, found = clean_loan(row.values, today=plan.today)
        for column, message in found:
            note(row, column, message)
        ext = row.values.get("external_id", "")
        if cleaned is None:
            if ext:
                known[ext] = "bad"
            continue
        if cleaned.external_id in seen:
            note(row, "external_id", _l("the same as on line %(line)d", line=seen[cleaned.external_id]))
            continue
        seen[cleaned.external_id] = row.line
        digest = _digest(cleaned.content())
        before = _imported_before(earlier.get(cleaned.external_id), digest, cleaned.external_id, plan, "loan",
                                  lambda message: note(row, "external_id", message))
        if before is not None:
            if before == "changed":
                known[cleaned.external_id] = "bad"
            continue
        bad = False
        product = product_of(tenant, cleaned.product)
        if product is None:
            note(row, "product", _l("%(code)s is not one of this tenant's products", code=cleaned.product))
            bad = True
        borrower = _person(users, cleaned.borrower)
        if borrower is None:
            note(row, "borrower", _l("no user %(id)s in users.csv or imported before", id=cleaned.borrower))
            bad = True
        elif borrower == "bad":
            bad = True  # its own row's problems are reported
        else:
            if "borrower" not in borrower[1]:
                note(row, "borrower", _l("%(id)s does not have the borrower role", id=cleaned.borrower))
                bad = True
            if product is not None and product["borrower_type"] != borrower[0]:
                note(row, "product", _l("%(code)s lends to %(type)s borrowers; %(id)s is a %(kind)s",
                                        code=product["code"], type=product["borrower_type"], id=cleaned.borrower,
                                        kind=borrower[0]))
                bad = True
        for holder, _share in cleaned.holders:
            investor = _person(users, holder)
            if holder == cleaned.borrower:
                note(row, "holders", _l("the borrower %(id)s cannot hold a claim on their own loan", id=holder))
                bad = True
            elif investor is None:
                note(row, "holders", _l("no user %(id)s in users.csv or imported before", id=holder))
                bad = True
            elif investor == "bad":
                bad = True
            elif "investor" not in investor[1]:
                note(row, "holders", _l("%(id)s does not have the investor role", id=holder))
                bad = True
        schedule = build_schedule(cleaned.amount, cleaned.annual_rate, cleaned.months, cleaned.method,
                                  cleaned.disbursed_on)
        management_fee = apply_rate(cleaned.amount, product.get("management_fee_rate", "0")) if product else None
        loan_plan = LoanPlan(cleaned, row.line, digest, product, schedule, management_fee)
        if bad:  # its repayments are still checked against its schedule
            known[cleaned.external_id] = ("bad", loan_plan)
            continue
        known[cleaned.external_id] = loan_plan
        plan.loans.append(loan_plan)
    return known


def _imported_before(record, digest: str, external_id: str, plan: Plan, kind: str, report) -> str | None:
    """How a row stands to an earlier import of its external id: None (new), ``"unchanged"`` (the same
    content: counted in ``plan.unchanged[kind]``, nothing to do) or ``"changed"`` (other content: refused
    through ``report``, since an imported row is never changed)."""
    if record is None:
        return None
    if record.digest != digest:
        report(_l("%(id)s was imported before (batch %(batch)d) with other content; "
                  "an imported row is never changed by importing it again", id=external_id, batch=record.batch_id))
        return "changed"
    plan.unchanged[kind] += 1
    return "unchanged"


def _expected_status(installments, paid: set[int], grace: int, today: date) -> str:
    """paid_off when every installment is paid; overdue when one is unpaid past its due date and the grace days."""
    unpaid = [(n, due) for n, due in installments if n not in paid]
    if not unpaid:
        return "paid_off"
    if any(due + timedelta(days=grace) < today for _n, due in unpaid):
        return "overdue"
    return "repaying"


def _check_repayments(tenant, plan: Plan, table: Table | None, loans: dict, problems: list) -> None:
    from core.delivery.models import ImportedRecord
    from core.lending.models import Installment, Loan

    earlier = _imported("repayment")
    new_by_loan: dict[str, list[RepaymentRow]] = OrderedDict()
    here_loans: dict[str, Loan] = {}
    troubled: set[str] = set()  # loans with a refused repayment: their status cannot be judged yet
    earlier_loans: dict = {}  # external id -> (Loan, {number: installment figures}) or None
    if table is not None:
        seen: dict[str, int] = {}

        def note(row: Row, column: str, message) -> None:
            problems.append(Problem(table.name, row.line, column, message))

        for row in table.rows:
            cleaned, found = clean_repayment(row.values, today=plan.today)
            for column, message in found:
                note(row, column, message)
            if cleaned is None:
                troubled.add(row.values.get("loan", ""))
                continue
            if cleaned.key in seen:
                note(row, "installment", _l("the same installment as on line %(line)d", line=seen[cleaned.key]))
                continue
            seen[cleaned.key] = row.line
            digest = _digest(cleaned.content())
            if _imported_before(earlier.get(cleaned.key), digest, cleaned.key, plan, "repayment",
                                lambda message: note(row, "installment", message)) is not None:
                continue
            target = loans.get(cleaned.loan)
            if target == "bad":  # the loan's row could not even be read; its own problems are reported
                continue
            bad_loan = isinstance(target, tuple)
            if bad_loan:
                target = target[1]
            if target is None:
                if cleaned.loan not in earlier_loans:
                    record = db.session.scalar(select(ImportedRecord).where(ImportedRecord.kind == "loan",
                                                                            ImportedRecord.external_id == cleaned.loan))
                    loan = db.session.get(Loan, record.target_id) if record is not None else None
                    earlier_loans[cleaned.loan] = None if loan is None else (loan, {
                        i.number: (i.principal, i.interest, i.management_fee, i.due_date, i.status)
                        for i in db.session.scalars(select(Installment).where(Installment.loan_id == loan.id))})
                if earlier_loans[cleaned.loan] is None:
                    note(row, "loan", _l("no loan %(id)s in loans.csv or imported before", id=cleaned.loan))
                    continue
                loan, rows = earlier_loans[cleaned.loan]
                here_loans[cleaned.loan] = loan
                disbursed_on = loan.disbursed_on
            else:
                rows = {i.number: (i.principal, i.interest, target.management_fee, i.due_date, "due")
                        for i in target.schedule.installments}
                disbursed_on = target.row.disbursed_on
            expected = rows.get(cleaned.installment)
            if expected is None:
                note(row, "installment", _l("loan %(id)s has installments 1 to %(last)d", id=cleaned.loan, last=len(rows)))
                continue
            principal, interest, fee, _due, status = expected
            wrong = False
            for column, given, due in (("principal", cleaned.principal, principal), ("interest", cleaned.interest, interest),
                                       ("management_fee", cleaned.management_fee, fee)):
                if given is not None and due is not None and given != due:
                    note(row, column, _l("the schedule says %(due)d for installment %(number)d, not %(given)d",
                                         due=due, number=cleaned.installment, given=given))
                    wrong = True
            if status == "paid":
                note(row, "installment", _l("installment %(number)d of loan %(id)s is already paid here",
                                            number=cleaned.installment, id=cleaned.loan))
                wrong = True
            if cleaned.paid_on < disbursed_on:
                note(row, "paid_on", _l("before the loan was disbursed (%(day)s)", day=disbursed_on.isoformat()))
                wrong = True
            if wrong or bad_loan:
                troubled.add(cleaned.loan)
                continue
            new_by_loan.setdefault(cleaned.loan, []).append(cleaned)
            plan.repayments.append((cleaned, digest))
    plan.repayments.sort(key=lambda item: (item[0].loan, item[0].installment))
    # every new loan's status must be what its schedule and repayments make it
    for loan_plan in plan.loans:
        row = loan_plan.row
        paid = {r.installment for r in new_by_loan.get(row.external_id, [])}
        grace = int(loan_plan.product.get("grace_days", 0))
        expected = _expected_status([(i.number, i.due_date) for i in loan_plan.schedule.installments], paid, grace,
                                    plan.today)
        loan_plan.status = expected
        if row.status != expected and row.external_id not in troubled:
            name = plan.tables["loans"].name
            problems.append(Problem(name, loan_plan.line, "status", _l(
                "the schedule and the repayments given make this loan %(expected)s, not %(given)s",
                expected=expected, given=row.status)))
    for external_id, loan in here_loans.items():
        if external_id not in new_by_loan:
            continue
        installments = db.session.execute(select(Installment.number, Installment.due_date, Installment.status)
                                          .where(Installment.loan_id == loan.id)).all()
        paid = {n for n, _d, s in installments if s == "paid"} | {r.installment for r in new_by_loan[external_id]}
        expected = _expected_status([(n, d) for n, d, _s in installments], paid,
                                    int(loan.terms.get("grace_days", 0)), plan.today)
        # paid off, or no longer late; a loan falling late is left to the daily overdue marking
        if (expected == "paid_off" and loan.status in ("repaying", "overdue")) or (
                expected == "repaying" and loan.status == "overdue"):
            plan.status_changes[loan.id] = expected


# --------------------------------------------------------------------- applying


def apply_plan(tenant, plan: Plan, *, operator: str):
    """Create everything the plan holds in ONE transaction; returns the :class:`ImportBatch`.

    Nothing is written when anything fails (the transaction rolls back).
    """
    from core.audit import audit
    from core.delivery.models import ImportBatch, ImportedRecord
    from core.ledger.journal import writing

    with writing() as tx:
        batch = ImportBatch(
            digests={k: t.digest for k, t in plan.tables.items()}, files={k: t.name for k, t in plan.tables.items()},
            created=plan.counts(), unchanged=dict(plan.unchanged), opening_total=plan.opening_total,
            operator=operator[:200],
        )
        db.session.add(batch)
        db.session.flush()
        records: list[ImportedRecord] = []
        user_ids = _create_users(tenant, plan, tx, batch, records)
        loan_ids = _create_loans(tenant, plan, batch, records, user_ids)
        _create_repayments(plan, batch, records, loan_ids)
        db.session.add_all(records)
        db.session.flush()
        audit("base_data.imported", actor=f"operator:{operator}"[:120], target=f"import_batch:{batch.id}",
              details={"created": plan.counts(), "unchanged": plan.unchanged, "opening_total": plan.opening_total,
                       "digests": batch.digests})
        batch_id = batch.id
    return db.session.get(ImportBatch, batch_id)


def _user_id_of(external_id: str, created: dict[str, int]) -> int:
    from core.delivery.models import ImportedRecord

    if external_id in created:
        return created[external_id]
    return db.session.scalar(select(ImportedRecord.target_id).where(ImportedRecord.kind == "user",
                                                                    ImportedRecord.external_id == external_id))


def _create_users(tenant, plan: Plan, tx, batch, records) -> dict[str, int]:
    from core.accounts import crypto
    from core.accounts.models import BankCard, KycApplication, User, UserRole
    from core.accounts.policy import now
    from core.delivery.models import ImportedRecord
    from sqlalchemy import insert

    from core.ledger.chart import open_account
    from core.ledger.journal import write_entry
    from core.ledger.models import PLATFORM_ACCOUNTS, LedgerAccount, platform_account_code, user_account_code
    from core.tenancy.models import utcnow

    created: dict[str, int] = {}
    if not plan.users:
        return created
    moment = now()
    users = []
    for row, _digest_ in plan.users:
        # No login password: the user sets one with an SMS code (password reset) on the first visit.
        user = User(kind=row.kind, status="active", password_hash="", locale=row.locale or tenant.default_locale)
        user.set_mobile(tenant, row.mobile)
        user.roles = [UserRole(role=role) for role in row.roles]
        users.append(user)
    db.session.add_all(users)
    db.session.flush()
    for (row, digest), user in zip(plan.users, users):
        created[row.external_id] = user.id
        if row.kind == "person":
            kyc = KycApplication(
                user_id=user.id, kind="person", status="approved", bureau_result="imported",
                name_sealed=crypto.seal(tenant, "kyc.name", row.name),
                id_number_sealed=crypto.seal(tenant, "kyc.id_number", row.id_number),
                id_number_index=crypto.blind_index(tenant, "id_number", row.id_number),
                submitted_at=moment, reviewed_at=moment,
            )
        else:
            kyc = KycApplication(
                user_id=user.id, kind="enterprise", status="approved", bureau_result="imported",
                name_sealed=crypto.seal(tenant, "kyc.name", row.name), company_name=row.company_name,
                uscc_sealed=crypto.seal(tenant, "kyc.uscc", row.id_number),
                uscc_index=crypto.blind_index(tenant, "uscc", row.id_number),
                submitted_at=moment, reviewed_at=moment,
            )
        db.session.add(kyc)
        db.session.add(BankCard(user_id=user.id, card_sealed=crypto.seal(tenant, "bank_card.number", row.bank_card),
                                card_index=crypto.blind_index(tenant, "bank_card", row.bank_card),
                                bank_name=row.bank_name, status="active"))
        records.append(ImportedRecord(batch_id=batch.id, kind="user", external_id=row.external_id, target_id=user.id,
                                      digest=digest))
    db.session.flush()
    clearing = platform_account_code("bank_clearing")
    spec = PLATFORM_ACCOUNTS["bank_clearing"]
    open_account(clearing, kind=spec["kind"], normal_side=spec["normal_side"])
    # Each user's ledger accounts mirror the sub-account the bank already holds (as a confirmed open_account
    # links a new one); they are new, so they are inserted together rather than one by one.
    stamp = utcnow()
    accounts = [
        {"tenant_id": tx.tenant_id, "code": user_account_code(user.id, bucket), "kind": "liability",
         "normal_side": "credit", "currency": tenant.currency, "owner_user_id": user.id,
         "custody_account": row.custody_account, "custody_bucket": bucket, "balance": 0, "pending_debit": 0,
         "pending_credit": 0, "created_at": stamp}
        for (row, _digest_), user in zip(plan.users, users) for bucket in ("available", "frozen")
    ]
    for start in range(0, len(accounts), _CHUNK):
        db.session.execute(insert(LedgerAccount), accounts[start:start + _CHUNK])
    lines = []
    for (row, _digest_), user in zip(plan.users, users):
        if row.available:
            lines.append((user_account_code(user.id, "available"), -row.available))
        if row.frozen:
            lines.append((user_account_code(user.id, "frozen"), -row.frozen))
    if lines:
        entry, _created = write_entry(
            tx, [(clearing, plan.opening_total)] + lines, key=f"import:opening:batch:{batch.id}",
            kind="opening_balance", memo=f"opening balances of {len(plan.users)} sub-accounts held at the bank, "
                                         f"imported from the previous system (import batch {batch.id})")
        # Not announced through money_moved: nothing moved at the bank (no "you received" texts to every user).
        if entry in tx.posted:
            tx.posted.remove(entry)
    return created


def _create_loans(tenant, plan: Plan, batch, records, user_ids: dict[str, int]) -> dict[str, int]:
    from core.accounts.models import User
    from core.delivery.models import ImportedRecord
    from core.lending.applications import identity_of
    from core.lending.models import Claim, Installment, Loan, LoanEvent

    loan_ids: dict[str, int] = {}
    for loan_plan in plan.loans:
        row = loan_plan.row
        borrower = db.session.get(User, _user_id_of(row.borrower, user_ids))
        identity = identity_of(borrower)
        loan = Loan(
            number="pending", borrower_id=borrower.id, borrower_type=borrower.kind, product_code=row.product,
            terms=dict(loan_plan.product), amount=row.amount, currency=tenant.currency, annual_rate=row.annual_rate,
            months=row.months, method=row.method, purpose=row.purpose, repayment_source="", industry="",
            monthly_income=0, safeguards="none", subject_key=identity[2] if identity else None,
            disclosure={"borrower_type": borrower.kind, "name": identity[4] if identity else "",
                        "identity": identity[5] if identity else "", "imported": True},
            status=loan_plan.status, bid_total=row.amount, frozen_total=row.amount,
            disbursed_on=row.disbursed_on, principal_outstanding=row.amount, principal_repaid=0,
        )
        db.session.add(loan)
        db.session.flush()
        loan.number = f"LN{loan.id:08d}"
        loan_ids[row.external_id] = loan.id
        db.session.add(LoanEvent(loan_id=loan.id, old_status="disbursed", new_status=loan_plan.status,
                                 actor="import", reason=f"imported from the previous system ({row.external_id})"))
        db.session.add_all(
            Installment(loan_id=loan.id, number=i.number, due_date=i.due_date, principal=i.principal,
                        interest=i.interest, management_fee=loan_plan.management_fee, status="due", penalty=0, late_fee=0)
            for i in loan_plan.schedule.installments
        )
        claim_status = "closed" if loan_plan.status == "paid_off" else "active"
        db.session.add_all(
            Claim(loan_id=loan.id, holder_id=_user_id_of(holder, user_ids), share=share, principal_outstanding=share,
                  status=claim_status, bid_id=None, price=0)
            for holder, share in row.holders
        )
        records.append(ImportedRecord(batch_id=batch.id, kind="loan", external_id=row.external_id, target_id=loan.id,
                                      digest=loan_plan.digest))
    db.session.flush()
    return loan_ids


def _create_repayments(plan: Plan, batch, records, loan_ids: dict[str, int]) -> None:
    from sqlalchemy import insert

    from core.delivery.models import ImportedRecord
    from core.lending.lifecycle import move
    from core.lending.models import Claim, Distribution, Installment, Loan, Repayment
    from core.lending.repayment import split
    from core.tenancy.scoping import current_tenant_id

    made: list = []  # (repayment, parts, external id, digest), stored together once every loan is done
    by_loan: dict[str, list] = OrderedDict()
    for row, digest in plan.repayments:
        by_loan.setdefault(row.loan, []).append((row, digest))
    for external_id, items in by_loan.items():
        if external_id in loan_ids:
            loan_id = loan_ids[external_id]
        else:
            loan_id = db.session.scalar(select(ImportedRecord.target_id).where(ImportedRecord.kind == "loan",
                                                                               ImportedRecord.external_id == external_id))
        loan = db.session.get(Loan, loan_id)
        claims = list(db.session.scalars(select(Claim).where(Claim.loan_id == loan.id).order_by(Claim.id)))
        if external_id not in loan_ids:  # imported earlier: its claims may have been sold on since
            claims = [c for c in claims if c.status == "active"]
        installments = {i.number: i for i in db.session.scalars(select(Installment).where(Installment.loan_id == loan.id))}
        fee_rate = loan.terms.get("investor_fee_rate", "0")
        for row, digest in sorted(items, key=lambda item: item[0].installment):
            inst = installments[row.installment]
            weights = [(c.id, c.holder_id, c.principal_outstanding) for c in claims]
            if not any(w for _c, _h, w in weights):
                weights = [(c.id, c.holder_id, c.share) for c in claims]
            parts = split(inst.principal, inst.interest, row.penalty, fee_rate, weights)
            platform_fee = inst.management_fee + sum(p.fee for p in parts)
            rep = Repayment(loan_id=loan.id, installment_id=inst.id, kind="installment",
                            key=f"import:{row.key}"[:200], state="done", payer_id=loan.borrower_id,
                            amount=sum(p.net for p in parts) + platform_fee, principal=inst.principal,
                            interest=inst.interest, penalty=row.penalty, platform_fee=platform_fee, to_reserve=0,
                            day=row.paid_on)
            db.session.add(rep)
            made.append((rep, parts, row.key, digest))
            by_claim = {p.claim_id: p.principal for p in parts}
            for claim in claims:
                claim.principal_outstanding -= by_claim.get(claim.id, 0)
            inst.status = "paid"
            inst.paid_on = row.paid_on
            inst.penalty = row.penalty
            loan.principal_outstanding -= inst.principal
            loan.principal_repaid += inst.principal
        new_status = plan.status_changes.get(loan.id)
        if new_status and new_status != loan.status:
            move(loan, new_status, actor="import", reason="repayments imported from the previous system")
            if new_status == "paid_off":
                for claim in claims:
                    if claim.status == "active":
                        claim.status = "closed"
    db.session.flush()
    tenant_id = current_tenant_id()
    distributions = [
        {"tenant_id": tenant_id, "repayment_id": rep.id, "claim_id": p.claim_id, "holder_id": p.holder_id,
         "principal": p.principal, "interest": p.interest, "penalty": p.penalty, "fee": p.fee}
        for rep, parts, _key, _digest in made for p in parts
    ]
    for start in range(0, len(distributions), _CHUNK):
        db.session.execute(insert(Distribution), distributions[start:start + _CHUNK])
    records.extend(ImportedRecord(batch_id=batch.id, kind="repayment", external_id=key, target_id=rep.id, digest=digest)
                   for rep, _parts, key, digest in made)
    # unpaid installments already late, as the daily overdue marking leaves them (penalty accrues from there)
    for loan_plan in plan.loans:
        if loan_plan.status != "overdue":
            continue
        loan = db.session.get(Loan, loan_ids[loan_plan.row.external_id])
        grace = int(loan.terms.get("grace_days", 0))
        for inst in db.session.scalars(select(Installment).where(Installment.loan_id == loan.id,
                                                                 Installment.status == "due")):
            if inst.due_date + timedelta(days=grace) < plan.today:
                inst.status = "overdue"
                inst.overdue_since = inst.due_date + timedelta(days=grace + 1)
                inst.late_fee = int(loan.terms.get("late_fee", 0))
    db.session.flush()


# --------------------------------------------------------------------- reconciling


@dataclass(frozen=True)
class AccountCheck:
    """One imported sub-account: the ledger's and the bank's balances (None: the bank has no such account)."""

    external_id: str
    account: str
    ledger: tuple[int, int]
    bank: tuple[int, int] | None

    @property
    def agrees(self) -> bool:
        return self.bank == self.ledger


def reconcile_imported(tenant) -> list[AccountCheck]:
    """The ledger's posted balances of every imported user's sub-account against the bank's, now.

    Raises :class:`BankUnreachable` when the bank cannot be asked. A tenant must be bound.
    """
    from core.delivery.models import ImportedRecord
    from core.ledger.models import LedgerAccount, user_account_code

    records = db.session.execute(select(ImportedRecord.external_id, ImportedRecord.target_id)
                                 .where(ImportedRecord.kind == "user").order_by(ImportedRecord.id)).all()
    if not records:
        return []
    accounts = {a.code: a for a in db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.owner_user_id.in_([r[1] for r in records]))
        .execution_options(populate_existing=True))}
    provider, name = _provider(tenant)
    checks = []
    for external_id, user_id in records:
        available = accounts.get(user_account_code(user_id, "available"))
        frozen = accounts.get(user_account_code(user_id, "frozen"))
        account = available.custody_account if available is not None else "?"
        ledger = (available.posted_balance if available is not None else 0,
                  frozen.posted_balance if frozen is not None else 0)
        balance = bank_balance(provider, name, account) if available is not None else None
        checks.append(AccountCheck(external_id, account, ledger,
                                   (balance.available, balance.frozen) if balance is not None else None))
    return checks


def run_import(tenant, paths: dict, *, operator: str, dry_run: bool = False,
               as_of: date | None = None) -> tuple[Plan, int | None]:
    """Check, then (unless ``dry_run`` or nothing is new) apply; returns ``(plan, batch id or None)``.

    Raises :class:`ImportRefused` or :class:`BankUnreachable` having written nothing.
    """
    from core.tenancy import tenant_context

    with tenant_context(tenant):
        try:
            plan = check_import(tenant, paths, as_of=as_of)
            if dry_run or plan.empty:
                return plan, None
            return plan, apply_plan(tenant, plan, operator=operator).id
        finally:
            db.session.rollback()
