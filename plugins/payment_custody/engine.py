"""The sandbox bank's engine: the TRUE sub-account balances and every instruction, in its own database.

Plain SQLAlchemy 2.0 Core with its own MetaData (not Flask-SQLAlchemy), so the
same engine runs in-process (``sandbox`` provider) or behind the sandbox bank
server. Every state change runs in one transaction, serialized by a process
lock per database plus ``BEGIN IMMEDIATE`` on SQLite or ``SELECT ... FOR UPDATE``
row locks (taken in account order) on other databases: a movement is never lost
or applied twice.
"""
from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from datetime import date, datetime, timezone, tzinfo
from typing import Callable, Iterator

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from core.custody.provider import (
    Balance,
    BankResult,
    CustodyError,
    Instruction,
    Statement,
    StatementLine,
)

__all__ = ["BankEngine", "card_number_ok", "metadata"]

metadata = MetaData()

accounts_table = Table(
    "bank_accounts",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("currency", String(8), nullable=False),
    Column("holder_name", String(200), nullable=False),
    Column("id_number", String(64), nullable=False),
    Column("card_number", String(32), nullable=False),
    Column("available", BigInteger, nullable=False, default=0),
    Column("frozen", BigInteger, nullable=False, default=0),
    Column("opened_at", String(40), nullable=False),
    Column("opened_day", String(10), nullable=False),
)

instructions_table = Table(
    "bank_instructions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_no", String(64), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("notify_url", Text, nullable=True),
    Column("status", String(10), nullable=False),
    Column("reason", String(40), nullable=True),
    Column("detail", Text, nullable=True),
    Column("received_at", String(40), nullable=False),
    Column("settled_at", String(40), nullable=True),
)

movements_table = Table(
    "bank_movements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_no", String(64), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("account", String(64), nullable=False),
    Column("counterparty", String(64), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("from_frozen", Boolean, nullable=False),
    Column("confirmed_at", String(40), nullable=False),
    Column("day", String(10), nullable=False, index=True),
)

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(key: str) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def card_number_ok(card_number: str) -> bool:
    """12-19 digits passing the Luhn check (what the sandbox bank accepts for open_account)."""
    if not isinstance(card_number, str) or not card_number.isdigit() or not 12 <= len(card_number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(card_number)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class BankEngine:
    """A custody bank's books: accounts (available/frozen), instructions (idempotent by request_no), movements.

    ``submit`` applies an instruction at once; ``submit(..., defer=True)`` records
    it as pending and ``settle`` applies it later (the bank server does that for
    asynchronous kinds). ``clock`` returns an aware datetime; ``tz`` decides
    which calendar day a movement belongs to in statements.
    """

    def __init__(
        self,
        database_url: str,
        *,
        clock: Callable[[], datetime] | None = None,
        tz: tzinfo = timezone.utc,
    ):
        self.database_url = database_url
        self._clock = clock or _utcnow
        self._tz = tz
        url = make_url(database_url)
        self._sqlite = url.get_backend_name() == "sqlite"
        kwargs: dict = {}
        memory = self._sqlite and url.database in (None, "", ":memory:")
        if self._sqlite:
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
            if memory:
                kwargs["poolclass"] = StaticPool
            elif not url.database.startswith("file:"):
                folder = os.path.dirname(os.path.abspath(url.database))
                os.makedirs(folder, exist_ok=True)
        self._engine = create_engine(database_url, **kwargs)
        if self._sqlite:
            event.listen(self._engine, "connect", _sqlite_autocommit_driver)
            event.listen(self._engine, "begin", _sqlite_begin_immediate)
        self._lock = threading.RLock() if memory else _lock_for(str(url))
        metadata.create_all(self._engine)

    # -- plumbing -----------------------------------------------------------------

    def close(self) -> None:
        """Release database connections."""
        self._engine.dispose()

    def clear(self) -> None:
        """SANDBOX ONLY: forget every account, instruction and movement (a tenant's demo money, before go-live)."""
        with self._tx() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())

    def ping(self) -> None:
        """Run a trivial transaction (raises if the database is not usable)."""
        with self._tx() as conn:
            conn.execute(select(instructions_table.c.id).limit(1)).all()

    @contextmanager
    def _tx(self) -> Iterator:
        with self._lock:
            with self._engine.begin() as conn:
                yield conn

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        return now

    def _day(self, moment: datetime) -> str:
        return moment.astimezone(self._tz).date().isoformat()

    @staticmethod
    def _result(row) -> BankResult:
        bank_ref = f"BK{row.id:012d}"
        detail = json.loads(row.detail) if row.detail else None
        raw = {
            "request_no": row.request_no,
            "status": row.status,
            "bank_ref": bank_ref,
            "reason": row.reason,
            "kind": row.kind,
            "received_at": row.received_at,
            "settled_at": row.settled_at,
        }
        if detail:
            raw["detail"] = detail
        return BankResult(row.request_no, row.status, bank_ref, row.reason, raw)

    def _retrying(self, fn):
        # A concurrent first submission of the same request_no (other process) loses the
        # unique race with IntegrityError; re-running reads the winner's record.
        for attempt in range(3):
            try:
                return fn()
            except IntegrityError:
                if attempt == 2:
                    raise

    # -- instructions -------------------------------------------------------------

    def submit(self, instruction: Instruction, *, defer: bool = False, notify_url: str | None = None) -> BankResult:
        """Record and (unless ``defer``) apply an instruction; idempotent per request_no."""
        fingerprint = instruction.fingerprint()

        def run() -> BankResult:
            with self._tx() as conn:
                row = conn.execute(
                    select(instructions_table)
                    .where(instructions_table.c.request_no == instruction.request_no)
                    .with_for_update()
                ).first()
                if row is not None:
                    if row.fingerprint != fingerprint:
                        return BankResult(
                            instruction.request_no, "refused", None, "request_no_reused",
                            {"request_no": instruction.request_no, "status": "refused", "reason": "request_no_reused"},
                        )
                    return self._result(row)
                now = self._now()
                values = {
                    "request_no": instruction.request_no,
                    "kind": instruction.kind,
                    "fingerprint": fingerprint,
                    "body": json.dumps(instruction.to_dict(), sort_keys=True),
                    "notify_url": notify_url,
                    "received_at": now.isoformat(),
                    "status": "pending",
                }
                if not defer:
                    status, reason, detail = self._apply(conn, instruction, now)
                    values.update(status=status, reason=reason, settled_at=now.isoformat(),
                                  detail=json.dumps(detail) if detail else None)
                conn.execute(instructions_table.insert().values(**values))
                return self._result(self._instruction_row(conn, instruction.request_no))

        return self._retrying(run)

    def settle(self, request_no: str) -> BankResult:
        """Apply a pending (deferred) instruction now; a settled one just returns its outcome."""
        with self._tx() as conn:
            row = self._instruction_row(conn, request_no, lock=True)
            if row is None:
                return self._unknown(request_no)
            if row.status != "pending":
                return self._result(row)
            now = self._now()
            instruction = Instruction.from_dict(json.loads(row.body))
            status, reason, detail = self._apply(conn, instruction, now)
            conn.execute(
                update(instructions_table)
                .where(instructions_table.c.id == row.id)
                .values(status=status, reason=reason, settled_at=now.isoformat(),
                        detail=json.dumps(detail) if detail else None)
            )
            return self._result(self._instruction_row(conn, request_no))

    def query(self, request_no: str) -> BankResult:
        """Outcome of an instruction; refused "unknown_request" if never received."""
        with self._tx() as conn:
            row = self._instruction_row(conn, request_no)
        return self._unknown(request_no) if row is None else self._result(row)

    def pending(self) -> list[tuple[str, str | None]]:
        """``(request_no, notify_url)`` of deferred instructions not yet settled, oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                select(instructions_table.c.request_no, instructions_table.c.notify_url)
                .where(instructions_table.c.status == "pending")
                .order_by(instructions_table.c.id)
            ).all()
        return [(r.request_no, r.notify_url) for r in rows]

    def notify_url(self, request_no: str) -> str | None:
        """The notify_url given with the first submission of ``request_no``."""
        with self._tx() as conn:
            row = self._instruction_row(conn, request_no)
        return row.notify_url if row is not None else None

    def instruction(self, request_no: str) -> Instruction | None:
        """The instruction as first received, or None."""
        with self._tx() as conn:
            row = self._instruction_row(conn, request_no)
        return Instruction.from_dict(json.loads(row.body)) if row is not None else None

    @staticmethod
    def _unknown(request_no: str) -> BankResult:
        return BankResult(request_no, "refused", None, "unknown_request",
                          {"request_no": request_no, "status": "refused", "reason": "unknown_request"})

    @staticmethod
    def _instruction_row(conn, request_no: str, *, lock: bool = False):
        stmt = select(instructions_table).where(instructions_table.c.request_no == request_no)
        if lock:
            stmt = stmt.with_for_update()
        return conn.execute(stmt).first()

    def _apply(self, conn, ins: Instruction, now: datetime) -> tuple[str, str | None, dict | None]:
        """Check and apply ``ins`` inside ``conn``'s transaction; nothing is written on refusal."""
        if ins.kind == "open_account":
            exists = conn.execute(
                select(accounts_table.c.account).where(accounts_table.c.account == ins.account).with_for_update()
            ).first()
            if exists is not None:
                return "refused", "duplicate_account", None
            if not card_number_ok(ins.details["card_number"]):
                return "refused", "invalid_card", None
            conn.execute(accounts_table.insert().values(
                account=ins.account, currency=ins.currency, holder_name=ins.details["name"],
                id_number=ins.details["id_number"], card_number=ins.details["card_number"],
                available=0, frozen=0, opened_at=now.isoformat(), opened_day=self._day(now),
            ))
            return "confirmed", None, None

        if ins.kind == "batch_transfer":
            legs = [("batch_transfer", i.source, i.target, i.amount, i.from_frozen) for i in ins.items]
        else:
            legs = [(ins.kind, ins.account, ins.counterparty, ins.amount, ins.from_frozen)]
        names = sorted({n for leg in legs for n in (leg[1], leg[2]) if n})
        rows = conn.execute(
            select(accounts_table).where(accounts_table.c.account.in_(names))
            .order_by(accounts_table.c.account).with_for_update()
        ).all()
        found = {r.account: r for r in rows}
        missing = [n for n in names if n not in found]
        if missing:
            return "refused", "unknown_account", {"accounts": missing}
        wrong = [n for n in names if found[n].currency != ins.currency]
        if wrong:
            return "refused", "currency_mismatch", {"accounts": wrong}
        work = {n: [found[n].available, found[n].frozen] for n in names}
        lines = [StatementLine(ins.request_no, kind, src, dst, amount, ins.currency, ff, now)
                 for kind, src, dst, amount, ff in legs]
        for index, line in enumerate(lines):
            for account, d_available, d_frozen in line.effects():
                work[account][0] += d_available
                work[account][1] += d_frozen
                if work[account][0] < 0 or work[account][1] < 0:
                    detail = {"account": account, "item": index} if ins.kind == "batch_transfer" else {"account": account}
                    return "refused", "insufficient_funds", detail
        for name, (available, frozen) in work.items():
            if (available, frozen) != (found[name].available, found[name].frozen):
                conn.execute(update(accounts_table).where(accounts_table.c.account == name)
                             .values(available=available, frozen=frozen))
        day = self._day(now)
        conn.execute(movements_table.insert(), [
            {"request_no": ln.request_no, "kind": ln.kind, "account": ln.account, "counterparty": ln.counterparty,
             "amount": ln.amount, "currency": ln.currency, "from_frozen": ln.from_frozen,
             "confirmed_at": now.isoformat(), "day": day}
            for ln in lines
        ])
        return "confirmed", None, None

    # -- balances and statements --------------------------------------------------

    def balance(self, account: str) -> Balance:
        """Current balances; CustodyError("unknown_account") if the account does not exist."""
        with self._tx() as conn:
            row = conn.execute(select(accounts_table).where(accounts_table.c.account == account)).first()
        if row is None:
            raise CustodyError("unknown_account", f"unknown account {account!r}")
        return Balance(row.account, row.available, row.frozen)

    def account_currency(self, account: str) -> str | None:
        """The currency an account was opened in, or None."""
        with self._tx() as conn:
            return conn.execute(
                select(accounts_table.c.currency).where(accounts_table.c.account == account)
            ).scalar_one_or_none()

    def balances(self, currency: str | None = None) -> list[Balance]:
        """Current balances of every account (of ``currency``), ordered by account."""
        stmt = select(accounts_table).order_by(accounts_table.c.account)
        if currency is not None:
            stmt = stmt.where(accounts_table.c.currency == currency)
        with self._tx() as conn:
            rows = conn.execute(stmt).all()
        return [Balance(r.account, r.available, r.frozen) for r in rows]

    def statement(self, day: date, currency: str) -> Statement:
        """Confirmed movements of ``day`` in ``currency`` and every such account's balance at the day's end."""
        iso = day.isoformat()
        m = movements_table
        with self._tx() as conn:
            rows = conn.execute(
                select(m).where(m.c.currency == currency, m.c.day <= iso).order_by(m.c.id)
            ).all()
            opened = conn.execute(
                select(accounts_table.c.account)
                .where(accounts_table.c.currency == currency, accounts_table.c.opened_day <= iso)
                .order_by(accounts_table.c.account)
            ).scalars().all()
        closing = {name: [0, 0] for name in opened}
        lines = []
        for r in rows:
            line = StatementLine(r.request_no, r.kind, r.account, r.counterparty, r.amount, r.currency,
                                 bool(r.from_frozen), datetime.fromisoformat(r.confirmed_at))
            for account, d_available, d_frozen in line.effects():
                bucket = closing.setdefault(account, [0, 0])
                bucket[0] += d_available
                bucket[1] += d_frozen
            if r.day == iso:
                lines.append(line)
        return Statement(
            day, currency, tuple(lines),
            tuple(Balance(name, a, f) for name, (a, f) in sorted(closing.items())),
        )


def _sqlite_autocommit_driver(dbapi_connection, connection_record) -> None:
    # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE itself (pysqlite would defer it)
    dbapi_connection.isolation_level = None


def _sqlite_begin_immediate(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
