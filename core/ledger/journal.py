"""Posting to the books: the only code that writes journal entries and account balances.

An entry is recorded ``pending`` (it reserves the money it takes out of each
account) or ``posted`` at once; a pending entry is later posted or voided::

    pending ──post──▶ posted ──reverse──▶ (a new posted entry, reversal_of → it)
       └────void───▶ voided

* Amounts are ``int`` minor units, debit positive; the lines of an entry sum
  to zero per currency; no zero lines; floats and Decimals are a TypeError.
* Every entry has an idempotency key: the same key with the same body returns
  the first entry and posts nothing; with another body it raises
  :class:`IdempotencyConflict`.
* An account mirroring a bank balance never goes below zero: its posted
  balance minus what pending entries reserve must stay >= 0.
* Entries are never edited; :func:`reverse` books the opposite lines.

Concurrency: every write runs in :func:`writing`, one transaction that locks
the affected account rows in id order on PostgreSQL (a small entry: the server
function ``lendkit_ledger_record`` updates each account conditionally, see
:func:`write_entry`; a large one: ``SELECT … FOR UPDATE``); on SQLite a process
lock plus ``BEGIN IMMEDIATE`` serialise writers. Two writers racing on one
idempotency key: the second finds the key taken (PostgreSQL: ``ON CONFLICT DO
NOTHING``; SQLite: checked under the write lock) and returns the first one's
entry; a unique-key error from any other race is caught, the entry re-read and
returned.
``money_moved`` is announced to plugins after the commit of every posting.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Iterator

from sqlalchemy import insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from core.extensions import db
from core.ledger import errors
from core.ledger.errors import (  # noqa: F401  (re-exported: callers catch them from here)
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidEntry,
    InvalidTransition,
    LedgerError,
    UnbalancedEntry,
    UnknownAccount,
)
from core.ledger.models import ENTRY_TRANSITIONS, JournalEntry, JournalLine, LedgerAccount
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantNotBound, current_tenant_id

log = logging.getLogger("lendkit.ledger")

__all__ = [
    "Line",
    "Transaction",
    "writing",
    "record",
    "post",
    "void",
    "reverse",
    "write_entry",
    "change_state",
    "entry_by_key",
    "LedgerError",
    "InvalidEntry",
    "UnbalancedEntry",
    "UnknownAccount",
    "InsufficientFunds",
    "IdempotencyConflict",
    "InvalidTransition",
    "AlreadyReversed",
]

#: Longest idempotency key accepted (the column holds 200).
MAX_KEY = 200
#: Rows per statement when SQLite must bind every value (its variable limit).
_SQLITE_CHUNK = 500
#: PostgreSQL: an entry moving at most this many accounts is written by the server function
#: ``lendkit_ledger_record`` (one round trip, one conditional UPDATE per account); a larger one
#: by the set-based statements below (one lock, one write), which are faster for thousands of rows.
SMALL_ENTRY = 32


@dataclass(frozen=True)
class Line:
    """One line to record: ``amount`` minor units on the account named ``account`` (debit positive).

    ``currency`` defaults to the account's currency.
    """

    account: str
    amount: int
    currency: str | None = None


def check_amount(amount, name: str = "amount") -> int:
    """``amount`` if it is an int (minor units); TypeError for float, Decimal, bool, str…"""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(
            f"{name} must be an int in minor units (fen, cents), got {type(amount).__name__} {amount!r}; "
            f"convert with core.money.to_minor"
        )
    return amount


def _normalise(lines: Iterable) -> list[tuple[str, int, str | None]]:
    out = []
    for item in lines:
        if type(item) is tuple and len(item) == 2:  # the common case first: (code, amount)
            code, amount = item
            currency = None
        elif isinstance(item, Line):
            code, amount, currency = item.account, item.amount, item.currency
        else:
            code, amount, *rest = item
            currency = rest[0] if rest else None
        if type(code) is not str:
            if isinstance(code, LedgerAccount):
                code = code.code
            else:
                raise TypeError(f"a line's account must be an account code, got {code!r}")
        if type(amount) is not int:
            check_amount(amount)
        if amount == 0:
            raise errors.zero_line()
        if not code:
            raise TypeError("a line's account must be an account code, got ''")
        out.append((code, amount, currency))
    if len(out) < 2:
        raise errors.too_few_lines()
    return out


def _digest(kind: str, lines, request_no: str | None, reversal_of: int | None) -> str:
    body = {
        "kind": kind,
        "lines": sorted([code, amount, currency or ""] for code, amount, currency in lines),
        "request_no": request_no,
        "reversal_of": reversal_of,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _check_key(key) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise ValueError(f"an idempotency key must be a non-empty string of at most {MAX_KEY} characters")
    return key


# --------------------------------------------------------------------- transactions


@dataclass
class Transaction:
    """One write transaction on the books (see :func:`writing`)."""

    tenant_id: int
    dialect: str
    #: The session's database connection for this transaction (statements run on it directly).
    connection: object = None
    #: Entries posted in this transaction; announced through ``money_moved`` after the commit.
    posted: list = field(default_factory=list)


_current: ContextVar[Transaction | None] = ContextVar("lendkit_ledger_tx", default=None)
_sqlite_locks: dict[str, threading.RLock] = {}
_sqlite_locks_guard = threading.Lock()


def _sqlite_lock(engine) -> threading.RLock:
    key = str(engine.url)
    with _sqlite_locks_guard:
        return _sqlite_locks.setdefault(key, threading.RLock())


def _begin_immediate(session) -> None:
    """SQLite: take the database's write lock now, so what we read cannot change before we write.

    pysqlite opens a transaction only at the first write; reads before it see
    whatever is committed at the time, so a read-check-write would race.
    ``BEGIN IMMEDIATE`` waits (``busy_timeout``) for other writers instead.
    """
    connection = session.connection()
    dbapi_connection = connection.connection.dbapi_connection
    if not dbapi_connection.in_transaction:  # already writing: the lock is ours
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def writing() -> Iterator[Transaction]:
    """One transaction that writes the books: committed at the end, rolled back on any error.

    Nested use joins the outer transaction. After the commit, every entry
    posted inside is announced to plugins (``money_moved``). A tenant must be
    bound.

    SQLite: writers are serialised by a process lock, and the session's pool
    connection is taken BEFORE it: a thread that waited for a pool connection
    while holding the lock would wait for ever on threads that hold every
    connection and wait for the lock.
    """
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantNotBound("no tenant is bound; refusing to write the books")
    session = db.session
    engine = session.get_bind()
    dialect = engine.dialect.name
    tx = Transaction(tenant_id=tenant_id, dialect=dialect)
    if dialect == "sqlite":
        session.connection()  # the pool connection first, then the lock (see above)
    token = _current.set(tx)
    try:
        with _sqlite_lock(engine) if dialect == "sqlite" else nullcontext():
            try:
                if dialect == "sqlite":
                    _begin_immediate(session)
                tx.connection = session.connection()
                yield tx
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        _current.reset(token)
    if tx.posted:
        announce(tx.posted)


def in_transaction() -> bool:
    """True inside :func:`writing`."""
    return _current.get() is not None


def announce(entries) -> None:
    """Call every ``money_moved`` implementation for each posted entry.

    Each plugin is called on its own: one that fails is logged and the others
    still hear of the movement (pluggy alone would stop at the first error).
    """
    from core.plugins import get_plugin_manager
    from core.tenancy.models import Tenant

    impls = list(reversed(get_plugin_manager().hook.money_moved.get_hookimpls()))  # pluggy's order: LIFO
    if not impls:
        return
    try:
        tenant = db.session.get(Tenant, current_tenant_id())
        # one query for every entry's lines and their accounts, so a plugin reading them causes no query per line
        # (ids from the identity key: the commit expired the entries, and reading ``e.id`` would load each again)
        ids = [_entry_id(e) for e in entries]
        loaded = {e.id: e for e in db.session.scalars(
            select(JournalEntry).where(JournalEntry.id.in_(ids))
            .options(selectinload(JournalEntry.lines).joinedload(JournalLine.account))
        )}
    except Exception:  # noqa: BLE001 - the money has moved; telling plugins must not fail the caller
        log.exception("could not load posted entries to announce them")
        return
    for entry in (loaded.get(entry_id, e) for entry_id, e in zip(ids, entries)):
        values = {"tenant": tenant, "entry": entry}
        for impl in impls:
            try:
                impl.function(*[values[name] for name in impl.argnames])
            except Exception:  # noqa: BLE001 - the money has moved; a plugin cannot undo it
                log.exception("money_moved plugin %s failed for entry %s of tenant %s",
                              impl.plugin_name, entry.id, tenant.slug)


def _entry_id(entry: JournalEntry) -> int:
    """An entry's id without loading an expired entry again (its identity key keeps the id)."""
    identity = sa_inspect(entry).identity
    return identity[0] if identity else entry.id


# --------------------------------------------------------------------- reading


_ACCOUNT_COLUMNS = (
    LedgerAccount.id,
    LedgerAccount.code,
    LedgerAccount.currency,
    LedgerAccount.normal_side,
    LedgerAccount.custody_bucket,
    LedgerAccount.balance,
    LedgerAccount.pending_debit,
    LedgerAccount.pending_credit,
)

# PostgreSQL statements of the hot path, as plain SQL: one round trip each, each PREPAREd once
# per connection (parsed and analysed once; PostgreSQL's default plan_cache_mode decides
# between custom and generic plans: forcing generic plans was tried and is faster, but a
# generic plan cannot tell a big tenant from a small one and once scanned every line of the
# tenant). Every statement filters on tenant_id itself, given from the bound tenant by
# :func:`writing`; they run on the session's connection, outside the ORM's automatic scoping
# (the same opt-out as ``all_tenants=True``, see :func:`_pg`).
_ACCOUNT_SQL = "id, code, currency, normal_side, custody_bucket, balance, pending_debit, pending_credit"
_PG_STATEMENTS = {
    # the accounts named by code, locked in id order
    "lendkit_ledger_lock_codes": ("integer, varchar[]", f"""
SELECT {_ACCOUNT_SQL} FROM ledger_account
WHERE tenant_id = $1 AND code = ANY($2) ORDER BY id FOR UPDATE"""),
    # the accounts of an entry's lines, locked in id order, with the entry's debits and credits on each
    # (the lines are found through the index on (tenant_id, entry_id))
    "lendkit_ledger_lock_entry_accounts": ("integer, integer", """
SELECT a.id, a.code, a.currency, a.normal_side, a.custody_bucket, a.balance, a.pending_debit, a.pending_credit,
       l.debit, l.credit
FROM ledger_account AS a
JOIN (SELECT account_id, COALESCE(SUM(amount) FILTER (WHERE amount > 0), 0) AS debit,
             COALESCE(SUM(amount) FILTER (WHERE amount < 0), 0) AS credit
      FROM journal_line WHERE tenant_id = $1 AND entry_id = $2 GROUP BY account_id) AS l ON l.account_id = a.id
WHERE a.tenant_id = $1 ORDER BY a.id FOR UPDATE OF a"""),
    # a small entry checked and written by the server function (migration 0018): (entry id, outcome)
    "lendkit_ledger_record": (
        "integer, varchar, varchar, varchar, varchar, boolean, integer, varchar, date, timestamptz,"
        " varchar[], bigint[], varchar[]", """
SELECT o_entry_id, o_outcome FROM lendkit_ledger_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"""),
    # entry, lines and balances in ONE statement; no row at all when the key is taken already
    "lendkit_ledger_write": (
        "integer, varchar, varchar, varchar, varchar, varchar, integer, varchar, date, timestamptz, timestamptz,"
        " bigint[], bigint[], varchar[], bigint[], bigint[], bigint[], bigint[]", """
WITH e AS (
    INSERT INTO journal_entry (tenant_id, idempotency_key, digest, kind, memo, state, reversal_of, request_no,
                               value_date, created_at, posted_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING id
), l AS (
    INSERT INTO journal_line (tenant_id, entry_id, account_id, amount, currency)
    SELECT $1, e.id, t.account_id, t.amount, t.currency
    FROM e, unnest($12, $13, $14) AS t(account_id, amount, currency)
), u AS (
    UPDATE ledger_account AS a SET balance = v.bal, pending_debit = v.pd, pending_credit = v.pc
    FROM e, unnest($15, $16, $17, $18) AS v(id, bal, pd, pc)
    WHERE a.id = v.id AND a.tenant_id = $1
)
SELECT id FROM e"""),
    # a pending entry posted or voided: the new cached balances of its locked accounts and its state
    "lendkit_ledger_change_state": (
        "integer, integer, varchar, date, timestamptz, timestamptz, bigint[], bigint[], bigint[], bigint[]", """
WITH u AS (
    UPDATE ledger_account AS a SET balance = v.bal, pending_debit = v.pd, pending_credit = v.pc
    FROM unnest($7, $8, $9, $10) AS v(id, bal, pd, pc)
    WHERE a.id = v.id AND a.tenant_id = $1
)
UPDATE journal_entry SET state = $3, value_date = $4, posted_at = $5, voided_at = $6
WHERE tenant_id = $1 AND id = $2"""),
}


def _pg(tx: "Transaction", name: str, *args):
    """Run prepared statement ``name`` with ``args`` on the transaction's connection (PREPAREd on first use).

    A prepared statement lives as long as its database connection (a rollback keeps
    it), so the names prepared are kept in the connection's ``info``. The statements
    carry ``tenant_id`` themselves (``tx.tenant_id``, the bound tenant): they are
    the ledger's explicit opt-out of the ORM's automatic scoping, like ``all_tenants``.
    """
    connection = tx.connection
    prepared = connection.info.setdefault("lendkit_prepared", set())
    if name not in prepared:
        types, sql = _PG_STATEMENTS[name]
        connection.exec_driver_sql(f"PREPARE {name} ({types}) AS {sql}")
        prepared.add(name)
    try:
        return connection.exec_driver_sql(f"EXECUTE {name} ({', '.join(['%s'] * len(args))})", args)
    except DBAPIError as exc:
        if getattr(exc.orig, "pgcode", None) == "26000":  # the server forgot it (DISCARD ALL): prepare again next time
            prepared.clear()
        raise


def _pg_ints(values) -> str:
    """A PostgreSQL array literal of ints: sent as ONE string, parsed by array_in, not as 10,000 SQL constants."""
    return "{" + ",".join(map(str, values)) + "}"


def _pg_texts(values) -> str:
    """A PostgreSQL array literal of strings, every element quoted; None is NULL."""
    return "{" + ",".join("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "}"


def _lock_accounts(tx: Transaction, *, codes=None, ids=None) -> list:
    """Account rows (as tuples, in _ACCOUNT_COLUMNS order) by code or id, locked ``FOR UPDATE`` in id order.

    (PostgreSQL locks by code only; :func:`change_state` locks an entry's accounts by its lines.)

    On SQLite the database's write lock, taken by :func:`writing`, covers them.
    """
    session = db.session
    wanted = sorted(set(codes if codes is not None else ids))
    if tx.dialect == "postgresql":
        return [tuple(row) for row in _pg(tx, "lendkit_ledger_lock_codes", tx.tenant_id, _pg_texts(wanted)).all()]
    column = LedgerAccount.code if codes is not None else LedgerAccount.id
    rows = []
    for start in range(0, len(wanted), _SQLITE_CHUNK):
        chunk = wanted[start:start + _SQLITE_CHUNK]
        rows.extend(tuple(row) for row in session.execute(select(*_ACCOUNT_COLUMNS).where(column.in_(chunk))).all())
    rows.sort()
    return rows


def _write_balances(tx: Transaction, changed: dict[int, list[int]]) -> None:
    """SQLite: store new ``[balance, pending_debit, pending_credit]`` of each locked account id."""
    if not changed:
        return
    ids = sorted(changed)
    db.session.execute(
        update(LedgerAccount).execution_options(synchronize_session=False),
        [{"id": i, "balance": changed[i][0], "pending_debit": changed[i][1], "pending_credit": changed[i][2]}
         for i in ids],
    )


def entry_by_key(key: str, *, lock: bool = False) -> JournalEntry | None:
    """The bound tenant's entry with idempotency key ``key``, or None."""
    stmt = select(JournalEntry).where(JournalEntry.idempotency_key == key).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).first()


def _lock_entry(entry) -> JournalEntry:
    entry_id = entry.id if isinstance(entry, JournalEntry) else int(entry)
    found = db.session.scalars(
        select(JournalEntry).where(JournalEntry.id == entry_id)
        .with_for_update().execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise LookupError(f"no journal entry {entry_id} in this tenant's books")
    return found


def _replay(existing: JournalEntry, digest: str, key: str) -> JournalEntry:
    if existing.digest != digest:
        raise errors.idempotency_conflict(key)
    return existing


# --------------------------------------------------------------------- writing


def _check_lines(norm, rows, pending: bool):
    """Resolve codes to the locked rows and apply the rules; ``(resolved lines, new balances)`` or a LedgerError.

    ``rows`` are tuples in :data:`_ACCOUNT_COLUMNS` order:
    (id, code, currency, normal_side, custody_bucket, balance, pending_debit, pending_credit).
    """
    by_code = {row[1]: row for row in rows}
    missing = {code for code, _, _ in norm if code not in by_code}
    if missing:
        raise errors.unknown_account(missing)
    sums: dict[str, int] = {}
    deltas: dict[int, list[int]] = {}  # account id -> [posted, pending debit, pending credit]
    resolved = []
    for code, amount, currency in norm:
        row = by_code[code]
        if currency is None:
            currency = row[2]
        elif currency != row[2]:
            raise errors.currency_mismatch(code, currency, row[2])
        sums[currency] = sums.get(currency, 0) + amount
        d = deltas.get(row[0])
        if d is None:
            d = deltas[row[0]] = [0, 0, 0]
        if not pending:
            d[0] += amount
        elif amount > 0:
            d[1] += amount
        else:
            d[2] -= amount
        resolved.append((row[0], amount, currency))
    for currency, total in sums.items():
        if total != 0:
            raise errors.unbalanced(currency, total)
    changed = {}
    for account_id, code, currency, normal_side, bucket, balance, pd, pc in rows:
        d = deltas[account_id]
        balance, pd, pc = balance + d[0], pd + d[1], pc + d[2]
        if bucket is not None:
            sign = 1 if normal_side == "debit" else -1
            outflow = (d[1] if sign < 0 else d[2]) - sign * d[0]  # what this entry takes out
            spendable = sign * balance - (pd if sign < 0 else pc)
            if outflow > 0 and spendable < 0:
                raise errors.insufficient_funds(code, spendable + outflow, outflow, currency)
        changed[account_id] = [balance, pd, pc]
    return resolved, changed


def write_entry(
    tx: Transaction,
    lines: Iterable,
    *,
    key: str,
    kind: str,
    memo: str = "",
    pending: bool = False,
    request_no: str | None = None,
    reversal_of: int | None = None,
    value_date: date | None = None,
) -> tuple[JournalEntry, bool]:
    """Record an entry inside ``tx``; return ``(entry, created)`` (False: an idempotent replay).

    SQLite: the key is checked first, under the database's write lock.
    PostgreSQL, at most :data:`SMALL_ENTRY` accounts: ONE call of the server
    function ``lendkit_ledger_record`` (migration 0018) checks and writes it, or
    reports a replay or a refusal having written nothing; a refusal is then
    explained by the checks below (same rules, kept equal by a property test).
    PostgreSQL, a larger entry: the accounts are locked (one statement), checked here, then ONE
    statement inserts the entry (``ON CONFLICT DO NOTHING`` on the key), its
    lines and the new balances; when the key is taken, nothing is written and
    the first entry is replayed. (Locking and checking inside that one statement
    too was tried: under concurrent writers its check saw balances older than
    the rows its UPDATE changed; the ``funds`` check constraint caught it.)
    A refusal is only raised when the key is new: a replay of an accepted
    request returns its entry even if it would no longer be accepted.
    """
    _check_key(key)
    norm = _normalise(lines)
    digest = _digest(kind, norm, request_no, reversal_of)
    session = db.session
    postgres = tx.dialect == "postgresql"

    now = utcnow()
    values = {
        "tenant_id": tx.tenant_id,
        "idempotency_key": key,
        "digest": digest,
        "kind": kind,
        "memo": (memo or "")[:500],
        "state": "pending" if pending else "posted",
        "reversal_of": reversal_of,
        "request_no": request_no,
        "value_date": None if pending else (value_date or now.date()),
        "created_at": now,
        "posted_at": None if pending else now,
    }
    if not postgres:
        existing = session.execute(select(JournalEntry.id).where(JournalEntry.idempotency_key == key)).first()
        if existing is not None:
            return _replay(entry_by_key(key), digest, key), False
    codes = [code for code, _, _ in norm]
    if postgres and len(set(codes)) <= SMALL_ENTRY:
        entry_id, outcome = _record_on_server(tx, norm, key=key, digest=digest, kind=kind, memo=values["memo"],
                                              pending=pending, reversal_of=reversal_of, request_no=request_no,
                                              value_date=values["value_date"] or now.date(), now=now)
        if outcome == "created":
            return _attached(tx, entry_id, values), True
        if outcome == "replay":
            return _replay(entry_by_key(key), digest, key), False
        # refused, and nothing written: the checks below say why (on rows this transaction now locks)

    rows = _lock_accounts(tx, codes=codes)
    try:
        resolved, changed = _check_lines(norm, rows, pending)
    except LedgerError:
        existing = entry_by_key(key) if postgres else None
        if existing is not None:
            return _replay(existing, digest, key), False
        raise

    if postgres:
        ids = sorted(changed)
        entry_id = _pg(
            tx, "lendkit_ledger_write",
            tx.tenant_id, key, digest, kind, values["memo"], values["state"], reversal_of, request_no,
            values["value_date"], now, values["posted_at"],
            _pg_ints(r[0] for r in resolved), _pg_ints(r[1] for r in resolved), _pg_texts([r[2] for r in resolved]),
            _pg_ints(ids), _pg_ints(changed[i][0] for i in ids), _pg_ints(changed[i][1] for i in ids),
            _pg_ints(changed[i][2] for i in ids),
        ).scalar()
        if entry_id is None:  # a concurrent writer committed this key first
            return _replay(entry_by_key(key), digest, key), False
        return _attached(tx, entry_id, values), True
    entry = JournalEntry(**values)
    session.add(entry)
    session.flush()
    _insert_lines(tx, entry.id, resolved)
    _write_balances(tx, changed)
    if values["state"] == "posted":
        tx.posted.append(entry)
    return entry, True


def _record_on_server(tx: Transaction, norm, *, key: str, digest: str, kind: str, memo: str, pending: bool,
                      reversal_of: int | None, request_no: str | None, value_date: date, now) -> tuple[int | None, str]:
    """PostgreSQL: check and write normalised lines by ONE call of ``lendkit_ledger_record`` (migration 0018).

    Returns ``(entry id, outcome)``: ``created``; ``replay`` (the key is taken: the first entry's id);
    ``refused`` (no id). A replay or a refusal has written nothing, and ``tx`` stays usable.
    """
    return tuple(_pg(
        tx, "lendkit_ledger_record", tx.tenant_id, key, digest, kind, memo, pending, reversal_of, request_no,
        value_date, now, _pg_texts([code for code, _, _ in norm]), _pg_ints(amount for _, amount, _ in norm),
        _pg_texts([currency for _, _, currency in norm]),
    ).one())


def _attached(tx: Transaction, entry_id: int, values: dict) -> JournalEntry:
    """The entry just inserted by SQL, as a persistent ORM object, without reading it back."""
    entry = JournalEntry(id=entry_id, voided_at=None, **values)
    make_transient_to_detached(entry)
    db.session.add(entry)
    if values["state"] == "posted":
        tx.posted.append(entry)
    return entry


def _insert_lines(tx: Transaction, entry_id: int, resolved) -> None:
    rows = [
        {"tenant_id": tx.tenant_id, "entry_id": entry_id, "account_id": account_id, "amount": amount,
         "currency": currency}
        for account_id, amount, currency in resolved
    ]
    db.session.execute(insert(JournalLine), rows)


def change_state(tx: Transaction, entry, to: str, *, value_date: date | None = None) -> JournalEntry:
    """Move a pending entry to ``posted`` or ``voided`` inside ``tx`` (InvalidTransition otherwise)."""
    entry = _lock_entry(entry)
    if to not in ENTRY_TRANSITIONS.get(entry.state, ()):
        raise errors.invalid_transition(entry.id, entry.state, to)
    session = db.session
    postgres = tx.dialect == "postgresql"
    if postgres:  # the accounts locked and the entry's lines summed per account in ONE statement
        rows = [tuple(r) for r in _pg(tx, "lendkit_ledger_lock_entry_accounts", tx.tenant_id, entry.id).all()]
        moves = [(r[0], r[8], r[9]) for r in rows]
    else:
        lines = session.execute(
            select(JournalLine.account_id, JournalLine.amount).where(JournalLine.entry_id == entry.id)
        ).all()
        rows = _lock_accounts(tx, ids=[line.account_id for line in lines])
        moves = [(account_id, amount, 0) if amount > 0 else (account_id, 0, amount) for account_id, amount in lines]
    by_id = {row[0]: row for row in rows}
    changed = {row[0]: [row[5], row[6], row[7]] for row in rows}
    for account_id, debit, credit in moves:  # debit >= 0, credit <= 0
        c = changed[account_id]
        c[1] -= debit
        c[2] += credit
        if to == "posted":
            c[0] += debit + credit
    if to == "posted":
        for account_id, (balance, pd, pc) in changed.items():
            _, code, currency, normal_side, bucket = by_id[account_id][:5]
            if bucket is None:
                continue
            sign = 1 if normal_side == "debit" else -1
            spendable = sign * balance - (pd if sign < 0 else pc)
            if spendable < 0:  # cannot happen: a pending outflow was reserved; the guard stays
                raise errors.insufficient_funds(code, spendable, 0, currency)
    now = utcnow()
    state = {"state": to, "value_date": None, "posted_at": None, "voided_at": None}
    if to == "posted":
        state.update(posted_at=now, value_date=value_date or now.date())
        tx.posted.append(entry)
    else:
        state["voided_at"] = now
    if postgres:  # balances and the entry's state in ONE statement; the ORM object told what it now holds
        ids = sorted(changed)
        _pg(tx, "lendkit_ledger_change_state", tx.tenant_id, entry.id, to, state["value_date"], state["posted_at"],
            state["voided_at"], _pg_ints(ids), _pg_ints(changed[i][0] for i in ids),
            _pg_ints(changed[i][1] for i in ids), _pg_ints(changed[i][2] for i in ids))
        for name, value in state.items():
            set_committed_value(entry, name, value)
        return entry
    _write_balances(tx, changed)
    entry.state = to
    if to == "posted":
        entry.posted_at, entry.value_date = state["posted_at"], state["value_date"]
    else:
        entry.voided_at = state["voided_at"]
    session.flush()
    return entry


# --------------------------------------------------------------------- the public operations


def record(
    lines: Iterable,
    *,
    key: str,
    kind: str,
    memo: str = "",
    pending: bool = False,
    request_no: str | None = None,
    value_date: date | None = None,
) -> JournalEntry:
    """Record an entry (``pending`` reserves its outflows; otherwise it is posted at once).

    ``lines`` are :class:`Line` or ``(account code, amount[, currency])``.
    Replaying ``key`` with the same body returns the first entry.
    """
    lines = list(lines)
    try:
        with writing() as tx:
            entry, _created = write_entry(tx, lines, key=key, kind=kind, memo=memo, pending=pending,
                                          request_no=request_no, value_date=value_date)
        return entry
    except IntegrityError as exc:
        return _after_race(exc, key, lambda: _digest(kind, _normalise(lines), request_no, None))


def _after_race(exc: IntegrityError, key: str, digest) -> JournalEntry:
    """A concurrent writer inserted ``key`` first: return its entry (same body) or refuse."""
    if in_transaction():
        raise exc
    existing = entry_by_key(key)
    if existing is None:
        raise exc
    return _replay(existing, digest(), key)


def post(entry, *, value_date: date | None = None) -> JournalEntry:
    """pending → posted: the reserved outflows and the inflows now count."""
    with writing() as tx:
        return change_state(tx, entry, "posted", value_date=value_date)


def void(entry) -> JournalEntry:
    """pending → voided: what the entry reserved is released; it never counts."""
    with writing() as tx:
        return change_state(tx, entry, "voided")


def reverse(entry, key: str, *, memo: str = "") -> JournalEntry:
    """Post the opposite lines of a posted entry as a new entry linked by ``reversal_of``.

    Idempotent per ``key``; a second reversal under another key raises
    :class:`AlreadyReversed`; only a posted entry can be reversed.
    """
    _check_key(key)
    entry_id = entry.id if isinstance(entry, JournalEntry) else int(entry)
    try:
        with writing() as tx:
            original = _lock_entry(entry_id)
            if original.state != "posted":
                raise errors.not_reversible(original.id, original.state)
            earlier = db.session.scalars(select(JournalEntry).where(JournalEntry.reversal_of == original.id)).first()
            if earlier is not None and earlier.idempotency_key != key:
                raise errors.already_reversed(original.id)
            reversal, _created = write_entry(
                tx, _opposite_lines(original), key=key, kind="reversal",
                memo=memo or f"reversal of entry {original.id}",
                request_no=original.request_no, reversal_of=original.id,
            )
        return reversal
    except IntegrityError as exc:
        if entry_by_key(key) is None and db.session.scalars(
            select(JournalEntry.id).where(JournalEntry.reversal_of == entry_id)
        ).first() is not None:
            raise errors.already_reversed(entry_id) from exc  # reversed concurrently under another key

        def digest():
            original = db.session.get(JournalEntry, entry_id)
            return _digest("reversal", _normalise(_opposite_lines(original)), original.request_no, entry_id)

        return _after_race(exc, key, digest)


def _opposite_lines(original: JournalEntry) -> list[tuple[str, int, str]]:
    rows = db.session.execute(
        select(LedgerAccount.code, JournalLine.amount, JournalLine.currency)
        .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
        .where(JournalLine.entry_id == original.id)
        .order_by(JournalLine.id)
    ).all()
    return [(code, -amount, currency) for code, amount, currency in rows]
