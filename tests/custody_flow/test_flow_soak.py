"""Soak: 1,000 random money operations against the sandbox bank server over HTTP, every fault on.

Errors before and after the bank applied a request, slow answers past the
client's timeout, dropped, duplicated, delayed and reordered callbacks, and
replays of earlier requests. Then recovery (every open instruction resolved
by querying its request number) and reconciliation, which must find nothing:
no double posting, no lost money, ledger = bank to the cent.
"""
import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from core.custody import service
from core.custody.instructions import provider_for, resolve_unknown
from core.custody.models import CustodyInstruction
from core.custody.reconcile import reconcile
from core.custody.service import Leg
from core.extensions import db
from core.ledger.balances import verify
from core.ledger.chart import account, accounts
from core.ledger.journal import InsufficientFunds
from core.ledger.models import JournalEntry
from core.tenancy import tenant_context
from plugins.payment_custody.bank_server import FaultConfig

from flow_fixtures import Flow, bank_server  # noqa: F401  (fixtures)

SEED = 20_260_301
OPERATIONS = 1_000
USERS = tuple(range(1, 13))
FAULTS = FaultConfig(error_rate=0.06, error_mode="both", latency_ms=350, latency_rate=0.03, drop_callbacks=0.15,
                     duplicate_callbacks=0.15, delay_callbacks=15, reorder_callbacks=True, seed=SEED)


@pytest.fixture
def fast_sqlite_commits(app):
    """``PRAGMA synchronous=NORMAL`` on every SQLite connection opened during the test (the bank's, and ours on SQLite).

    In WAL mode that is still safe from corruption; only the last commits may
    be lost on a power cut. Each commit then costs microseconds instead of an
    fsync (about 4 ms here), which is what this test would otherwise measure.
    """
    def pragma(dbapi_connection, connection_record):
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(Engine, "connect", pragma)
    db.session.remove()
    db.engine.dispose()  # reconnect with the pragma
    yield
    event.remove(Engine, "connect", pragma)


def spendable(user, bucket="available"):
    return account(f"user:{user}:{bucket}").spendable


def one_operation(rng: random.Random, n: int, done: dict):
    """Pick and run one operation; returns the instruction or None when the ledger refused it."""
    key = f"soak-{n}"
    roll = rng.random()
    if done and roll < 0.06:  # a worker retries an earlier request exactly
        key, call = rng.choice(list(done.items()))
        return call(key)
    user = rng.choice(USERS)
    other = rng.choice([u for u in USERS if u != user])
    available, frozen = max(spendable(user), 0), max(spendable(user, "frozen"), 0)
    if roll < 0.30 or available < 100:
        amount = rng.randint(1_000, 50_000)
        call = lambda k: service.deposit(user, amount, key=k)  # noqa: E731
    elif roll < 0.40:
        amount = rng.randint(1, available)
        call = lambda k: service.withdraw(user, amount, key=k)  # noqa: E731
    elif roll < 0.58:
        amount = rng.randint(1, available)
        call = lambda k: service.freeze(user, amount, key=k)  # noqa: E731
    elif roll < 0.66 and frozen:
        amount = rng.randint(1, frozen)
        call = lambda k: service.unfreeze(user, amount, key=k)  # noqa: E731
    elif roll < 0.78:
        amount = rng.randint(1, available)
        call = lambda k: service.transfer(user, other, amount, key=k)  # noqa: E731
    elif roll < 0.90 and frozen >= 100:
        amount = rng.randint(100, frozen)
        fees = {"fee_income": amount // 50, "risk_reserve": amount // 100}
        call = lambda k: service.transfer(user, other, amount, from_frozen=True, fees=fees, key=k)  # noqa: E731
    else:
        legs = []
        budget = available
        for target in rng.sample([u for u in USERS if u != user], rng.randint(2, 5)):
            if budget < 2:
                break
            part = rng.randint(1, budget // 2)
            budget -= part
            legs.append(Leg(user, target, part))
        if not legs:
            amount = rng.randint(1_000, 50_000)
            call = lambda k: service.deposit(user, amount, key=k)  # noqa: E731
        else:
            call = lambda k: service.batch_transfer(legs, key=k)  # noqa: E731
    done[key] = call
    return call(key)


@pytest.mark.slow
def test_a_thousand_operations_with_every_fault_on_reconcile_to_the_cent(fast_sqlite_commits, bank_server, tenant_a):
    started = time.monotonic()
    first_day = datetime.now(timezone.utc).date()
    server = bank_server(read_timeout=0.25, retries=1, retry_backoff=0.01)
    with tenant_context(tenant_a):
        flow = Flow()
        flow.open_platform()
        for user in USERS:
            flow.open_user(user)
        server.set_faults(FAULTS)

        rng = random.Random(SEED)
        done: dict = {}
        states = Counter()
        refused_by_ledger = 0
        for n in range(OPERATIONS):
            try:
                instruction = one_operation(rng, n, done)
            except InsufficientFunds:  # the ledger refused before asking the bank
                refused_by_ledger += 1
                continue
            states[instruction.state] += 1
        storm = time.monotonic() - started

        # recovery: settle every open instruction by querying its request number, faults still on
        assert server.bank.wait_idle(timeout=30)
        for _round in range(40):
            counts = resolve_unknown(grace=timedelta(0))
            if counts["open"] == 0 and counts["failed"] == 0:
                break
            server.bank.wait_idle(timeout=5)
        server.set_faults(FaultConfig())
        assert resolve_unknown(grace=timedelta(0))["open"] == 0

        stats = server.bank.stats
        assert stats["errors_after"] and stats["errors_before"] and stats["delayed"]
        assert stats["callbacks_dropped"] and stats["callbacks_duplicated"]
        assert states["unknown"] and states["sent"] and states["confirmed"]

        # every instruction final and agreeing with the bank; nothing pending in the books
        rows = db.session.scalars(select(CustodyInstruction).execution_options(populate_existing=True)).all()
        assert {i.state for i in rows} <= {"confirmed", "refused"}
        provider = provider_for(tenant_a)
        for instruction in rows:
            assert server.engine.query(instruction.request_no).status == instruction.state, instruction.request_no
        assert db.session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.state == "pending")) == 0

        # no double posting: one movement set per confirmed request at the bank, one posted entry in the books
        today = datetime.now(timezone.utc).date()
        days = sorted({first_day, today})  # the run may cross midnight UTC
        lines = [line for day in days for line in server.engine.statement(day, "CNY").lines]
        per_request = Counter(line.request_no for line in lines)
        for instruction in rows:
            items = len(instruction.body.get("items") or []) or 1
            expected = items if instruction.state == "confirmed" and instruction.kind != "open_account" else 0
            assert per_request.get(instruction.request_no, 0) == expected, instruction.request_no
        posted = Counter(db.session.scalars(select(JournalEntry.request_no).where(JournalEntry.state == "posted")))
        assert max(posted.values()) == 1

        # no lost money: every sub-account equals the books, to the cent
        bank = {(b.account, "available"): b.available for b in server.engine.balances("CNY")}
        bank.update({(b.account, "frozen"): b.frozen for b in server.engine.balances("CNY")})
        for a in accounts():
            if a.custody_account:
                assert a.posted_balance == bank[(a.custody_account, a.custody_bucket)], a.code
            elif a.code == "platform:bank_clearing":
                assert a.posted_balance == sum(bank.values())
        assert verify() == []
        for day in days:
            run = reconcile(day, provider=provider)
            assert run.status == "clean", [(d.kind, d.request_no, d.account) for d in run.differences]

    elapsed = time.monotonic() - started
    print(f"soak: {OPERATIONS} operations ({dict(states)}, {refused_by_ledger} refused by the ledger) "
          f"in {storm:.1f}s, total {elapsed:.1f}s; bank {dict(stats)}")  # speed is printed, never asserted
