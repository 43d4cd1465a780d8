"""Many writers at once: no posting is lost, none is doubled, no account goes below zero.

8 threads × 50 postings against the same few accounts, each thread with its
own app context and session, on SQLite and on PostgreSQL. Some keys are
shared by every thread (the same request retried from several workers): each
of those must be posted exactly once and every thread must get that one entry.
"""
import random
import threading
from collections import Counter

from sqlalchemy import func, select

from core.extensions import db
from core.ledger import journal
from core.ledger.balances import verify
from core.ledger.chart import account, open_user_accounts
from core.ledger.journal import InsufficientFunds
from core.ledger.models import JournalEntry
from core.tenancy import tenant_context

from ledger_fixtures import books  # noqa: F401  (fixture; no conftest.py here, see ledger_fixtures)

CLEARING = "platform:bank_clearing"
THREADS = 8
POSTINGS = 50
USERS = (1, 2, 3, 4)


def test_eight_threads_posting_at_once_lose_and_double_nothing(app, books):
    for user in USERS:
        open_user_accounts(user)
    books.fund(1, 5_000)  # user 1 starts with money, the others earn it through transfers
    tenant_id = account(CLEARING).tenant_id
    barrier = threading.Barrier(THREADS)
    results: list[list] = [[] for _ in range(THREADS)]
    refused = Counter()
    errors = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        try:
            with app.app_context(), tenant_context(tenant_id):
                barrier.wait(timeout=30)
                for i in range(POSTINGS):
                    if i % 10 == 0:  # the same request from every thread
                        key, lines = f"shared-{i}", [(CLEARING, 100 + i), (f"user:{1 + i % 4}:available", -(100 + i))]
                    elif rng.random() < 0.3:
                        amount = rng.randint(1, 300)
                        key, lines = f"t{n}-{i}", [(CLEARING, amount), (f"user:{rng.choice(USERS)}:available", -amount)]
                    else:
                        source, target = rng.sample(USERS, 2)
                        amount = rng.randint(1, 400)
                        key = f"t{n}-{i}"
                        lines = [(f"user:{source}:available", amount), (f"user:{target}:available", -amount)]
                    try:
                        entry = journal.record(lines, key=key, kind="test")
                    except InsufficientFunds:
                        refused[n] += 1
                        continue
                    results[n].append((key, entry.id, tuple(lines)))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert errors == []

    posted = {}
    for per_thread in results:
        for key, entry_id, lines in per_thread:
            assert posted.setdefault(key, (entry_id, lines)) == (entry_id, lines), f"{key} posted twice"
    shared = {key for key in posted if key.startswith("shared-")}
    assert len(shared) == POSTINGS // 10
    for key in shared:  # every thread that asked got the one entry
        ids = {entry_id for per_thread in results for k, entry_id, _ in per_thread if k == key}
        assert len(ids) == 1

    db.session.expire_all()
    # nothing lost, nothing doubled: one entry per distinct key that was accepted (plus the funding one)
    assert db.session.scalar(select(func.count(JournalEntry.id))) == len(posted) + 1
    expected = Counter({CLEARING: 5_000, "user:1:available": -5_000})
    for _entry_id, lines in posted.values():
        for code, amount in lines:
            expected[code] += amount
    for code in [CLEARING] + [f"user:{u}:available" for u in USERS]:
        assert account(code).balance == expected[code], code
        if code != CLEARING:
            assert account(code).spendable >= 0
    assert verify() == []
    assert sum(len(r) for r in results) + sum(refused.values()) == THREADS * POSTINGS


def test_racing_reversals_reverse_an_entry_exactly_once(app, books):
    entry_id = books.fund(1, 1_000).id
    tenant_id = account(CLEARING).tenant_id
    barrier = threading.Barrier(6)
    outcomes = []

    def worker(key):
        with app.app_context(), tenant_context(tenant_id):
            barrier.wait(timeout=30)
            try:
                outcomes.append(("ok", key, journal.reverse(entry_id, key).id))
            except journal.AlreadyReversed:
                outcomes.append(("already", key, None))
            db.session.remove()

    keys = ["same", "same", "same", "other-1", "other-2", "other-3"]
    threads = [threading.Thread(target=worker, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    reversals = {rid for status, _, rid in outcomes if status == "ok"}
    assert len(outcomes) == 6 and len(reversals) == 1
    winner = next(key for status, key, _ in outcomes if status == "ok")
    assert all(status == "ok" for status, key, _ in outcomes if key == winner)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.reversal_of == entry_id)) == 1
    assert account("user:1:available").posted_balance == 0 and verify() == []
