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
    bindparam,
    create_engine,
    event,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from core.custody.provider import (
    AccountHolder,
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

#: SANDBOX ONLY: balances an account already had when it was preloaded (:meth:`BankEngine.preload_account`),
#: i.e. money the bank held before the platform's records begin. Statements count them as the account's
#: opening balance; they are no movement and give no statement line.
opening_table = Table(
    "bank_opening_balances",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("available", BigInteger, nullable=False),
    Column("frozen", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),
)

#: Rows per statement when SQLite must bind every value (its variable limit).
_SQLITE_CHUNK = 500
#: PostgreSQL: every account of an instruction locked by ONE statement, in account order.
_PG_LOCK_ACCOUNTS = text(
    "SELECT account, currency, available, frozen FROM bank_accounts"
    " WHERE account = ANY(CAST(:names AS VARCHAR[])) ORDER BY account FOR UPDATE"
)
#: PostgreSQL: the new balances of every changed account in ONE statement.
_PG_WRITE_BALANCES = text(
    "UPDATE bank_accounts AS b SET available = v.available, frozen = v.frozen"
    " FROM unnest(CAST(:names AS VARCHAR[]), CAST(:available AS BIGINT[]), CAST(:frozen AS BIGINT[]))"
    " AS v(account, available, frozen) WHERE b.account = v.account"
)


#: PostgreSQL: every movement of an instruction in ONE statement (WITH ORDINALITY keeps the items' order).
_PG_INSERT_MOVEMENTS = text(
    "INSERT INTO bank_movements (request_no, kind, account, counterparty, amount, currency, from_frozen,"
    " confirmed_at, day)"
    " SELECT :request_no, m.kind, m.account, m.counterparty, m.amount, :currency, m.from_frozen, :confirmed_at, :day"
    " FROM unnest(CAST(:kinds AS VARCHAR[]), CAST(:accounts AS VARCHAR[]), CAST(:counterparties AS VARCHAR[]),"
    " CAST(:amounts AS BIGINT[]), CAST(:from_frozen AS BOOLEAN[])) WITH ORDINALITY"
    " AS m(kind, account, counterparty, amount, from_frozen, n) ORDER BY m.n"
)


def _pg_text(value: str) -> str:
    """One quoted element of a PostgreSQL array literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pg_texts(values) -> str:
    """A PostgreSQL array literal of strings, every element quoted (sent as one string)."""
    return "{" + ",".join(_pg_text(v) for v in values) + "}"


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
        self._postgres = url.get_backend_name() == "postgresql"
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
                # the row as stored comes back with the INSERT: its id makes the bank reference
                return self._result(conn.execute(
                    instructions_table.insert().values(**values).returning(*instructions_table.c)
                ).one())

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
            return self._result(conn.execute(
                update(instructions_table)
                .where(instructions_table.c.id == row.id)
                .values(status=status, reason=reason, settled_at=now.isoformat(),
                        detail=json.dumps(detail) if detail else None)
                .returning(*instructions_table.c)
            ).one())

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
        found = self._lock_accounts(conn, names)
        missing = [n for n in names if n not in found]
        if missing:
            return "refused", "unknown_account", {"accounts": missing}
        wrong = [n for n in names if found[n][0] != ins.currency]
        if wrong:
            return "refused", "currency_mismatch", {"accounts": wrong}
        work = {n: [found[n][1], found[n][2]] for n in names}
        lines = [StatementLine(ins.request_no, kind, src, dst, amount, ins.currency, ff, now)
                 for kind, src, dst, amount, ff in legs]
        for index, line in enumerate(lines):
            for account, d_available, d_frozen in line.effects():
                balances = work[account]
                balances[0] += d_available
                balances[1] += d_frozen
                if balances[0] < 0 or balances[1] < 0:
                    detail = {"account": account, "item": index} if ins.kind == "batch_transfer" else {"account": account}
                    return "refused", "insufficient_funds", detail
        self._write_balances(conn, [(name, available, frozen) for name, (available, frozen) in work.items()
                                    if (available, frozen) != found[name][1:]])
        self._insert_movements(conn, ins, lines, now)
        return "confirmed", None, None

    def _lock_accounts(self, conn, names: list[str]) -> dict[str, tuple[str, int, int]]:
        """``{account: (currency, available, frozen)}`` of the named accounts, locked in account order.

        PostgreSQL: ONE statement whatever the number of accounts, the names sent as one array
        literal (hundreds of bound parameters cost more to plan than to run). SQLite: the write
        lock of ``BEGIN IMMEDIATE`` already covers them; read in chunks under its variable limit
        (another database: the same chunks, ``FOR UPDATE``).
        """
        a = accounts_table.c
        if self._postgres:
            rows = conn.execute(_PG_LOCK_ACCOUNTS, {"names": _pg_texts(names)}).all()
        else:
            rows = []
            for start in range(0, len(names), _SQLITE_CHUNK):
                stmt = select(a.account, a.currency, a.available, a.frozen).where(
                    a.account.in_(names[start:start + _SQLITE_CHUNK])).order_by(a.account)
                rows += conn.execute(stmt if self._sqlite else stmt.with_for_update()).all()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def _insert_movements(self, conn, ins: Instruction, lines: list[StatementLine], now: datetime) -> None:
        """One movement row per statement line: ONE statement on PostgreSQL (columns as array literals)."""
        day, confirmed_at = self._day(now), now.isoformat()
        if not self._postgres:
            conn.execute(movements_table.insert(), [
                {"request_no": ln.request_no, "kind": ln.kind, "account": ln.account,
                 "counterparty": ln.counterparty, "amount": ln.amount, "currency": ln.currency,
                 "from_frozen": ln.from_frozen, "confirmed_at": confirmed_at, "day": day}
                for ln in lines
            ])
            return
        conn.execute(_PG_INSERT_MOVEMENTS, {
            "request_no": ins.request_no, "currency": ins.currency, "confirmed_at": confirmed_at, "day": day,
            "kinds": _pg_texts([ln.kind for ln in lines]),
            "accounts": _pg_texts([ln.account for ln in lines]),
            "counterparties": "{" + ",".join("NULL" if ln.counterparty is None else _pg_text(ln.counterparty)
                                             for ln in lines) + "}",
            "amounts": "{" + ",".join(str(ln.amount) for ln in lines) + "}",
            "from_frozen": "{" + ",".join("t" if ln.from_frozen else "f" for ln in lines) + "}",
        })

    def _write_balances(self, conn, changed: list[tuple[str, int, int]]) -> None:
        """Store new ``(account, available, frozen)`` of locked accounts: ONE statement on PostgreSQL."""
        if not changed:
            return
        if not self._postgres:  # SQLite is in-process: executemany costs no round trips
            a = accounts_table.c
            conn.execute(
                update(accounts_table).where(a.account == bindparam("_account"))
                .values(available=bindparam("_available"), frozen=bindparam("_frozen")),
                [{"_account": n, "_available": av, "_frozen": fr} for n, av, fr in changed],
            )
            return
        conn.execute(_PG_WRITE_BALANCES, {
            "names": _pg_texts([c[0] for c in changed]),
            "available": "{" + ",".join(str(c[1]) for c in changed) + "}",
            "frozen": "{" + ",".join(str(c[2]) for c in changed) + "}",
        })

    # -- sandbox setup -------------------------------------------------------------

    def preload_account(self, account: str, *, currency: str, holder_name: str, id_number: str, card_number: str,
                        available: int = 0, frozen: int = 0) -> Balance:
        """SANDBOX ONLY: make the bank hold ``account`` with these balances, as if opened long ago.

        A client moving onto lendkit brings users whose sub-accounts, and the
        money in them, already exist at its custody bank. A real bank needs
        nothing for that; the sandbox bank gets it here, on the bank's own side:
        no instruction, no movement, no statement line — statements count the
        balances as the account's opening balance from today. Preloading the
        same account again with the same figures changes nothing; otherwise it
        raises CustodyError("duplicate_account") (or "invalid_card",
        "invalid_amount").
        """
        if not isinstance(account, str) or not 0 < len(account) <= 64:
            raise CustodyError("invalid_account", "an account name is 1 to 64 characters")
        for amount in (available, frozen):
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise CustodyError("invalid_amount", "balances are ints >= 0 in minor units")
        if not card_number_ok(card_number):
            raise CustodyError("invalid_card", f"card number of {account!r} is not accepted")
        with self._tx() as conn:
            row = conn.execute(
                select(accounts_table).where(accounts_table.c.account == account).with_for_update()
            ).first()
            if row is not None:
                opening = conn.execute(select(opening_table).where(opening_table.c.account == account)).first()
                same = (opening is not None and (row.currency, row.holder_name, row.id_number, row.card_number,
                                                 opening.available, opening.frozen)
                        == (currency, holder_name, id_number, card_number, available, frozen))
                if not same:
                    raise CustodyError("duplicate_account", f"account {account!r} exists with other details")
                return Balance(row.account, row.available, row.frozen)
            now = self._now()
            conn.execute(accounts_table.insert().values(
                account=account, currency=currency, holder_name=holder_name, id_number=id_number,
                card_number=card_number, available=available, frozen=frozen, opened_at=now.isoformat(),
                opened_day=self._day(now),
            ))
            conn.execute(opening_table.insert().values(account=account, available=available, frozen=frozen,
                                                       day=self._day(now)))
        return Balance(account, available, frozen)

    # -- balances and statements --------------------------------------------------

    def balance(self, account: str) -> Balance:
        """Current balances; CustodyError("unknown_account") if the account does not exist."""
        with self._tx() as conn:
            row = conn.execute(select(accounts_table).where(accounts_table.c.account == account)).first()
        if row is None:
            raise CustodyError("unknown_account", f"unknown account {account!r}")
        return Balance(row.account, row.available, row.frozen)

    def holder(self, account: str) -> AccountHolder:
        """The last four characters of the holder's identity number and bound card."""
        with self._tx() as conn:
            row = conn.execute(select(accounts_table.c.id_number, accounts_table.c.card_number)
                               .where(accounts_table.c.account == account)).first()
        if row is None:
            raise CustodyError("unknown_account", f"unknown account {account!r}")
        return AccountHolder(account, row.id_number[-4:], row.card_number[-4:])

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
            preloaded = {r.account: [r.available, r.frozen] for r in conn.execute(
                select(opening_table).where(opening_table.c.day <= iso)
            )}
        closing = {name: list(preloaded.get(name, (0, 0))) for name in opened}
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
