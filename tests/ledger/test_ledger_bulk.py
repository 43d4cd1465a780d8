"""Wide entries are written in bulk (one statement for the entry, its lines and its balances on
PostgreSQL); the result must be exactly what the same movements posted one by one give.

Also: the PostgreSQL statements prepared once per connection survive a refused posting
(a rolled-back transaction) and a server that forgot them.
"""
import random

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.ledger import journal
from core.ledger.balances import verify, verify_balances
from core.ledger.chart import account, open_user_accounts
from core.ledger.journal import InsufficientFunds
from core.ledger.models import JournalLine

from ledger_fixtures import CLEARING, books  # noqa: F401  (fixture; no conftest.py here, see ledger_fixtures)

WIDTH = 260


def _open(first: int, count: int) -> list[int]:
    users = list(range(first, first + count))
    for user in users:
        open_user_accounts(user)
    return users


def _movements(seed: int, count: int):
    """(payer index, payee index, amount) triples over ``count`` users: a repayment split, roughly."""
    rng = random.Random(seed)
    moves = [(0, i, rng.randint(1, 9_999)) for i in range(1, count)]  # the payer pays everybody
    moves += [(rng.randrange(1, count), rng.randrange(1, count), rng.randint(1, 50)) for _ in range(count)]
    return [m for m in moves if m[0] != m[1]]


def test_a_wide_entry_equals_the_same_movements_posted_one_by_one(books):
    bulk, single = _open(50_000, WIDTH), _open(60_000, WIDTH)
    for users, prefix in ((bulk, "bulk"), (single, "single")):
        for user in users:
            books.fund(user, 100_000_000, key=f"fund-{prefix}-{user}")
    moves = _movements(3, WIDTH)

    net = {}
    for payer, payee, amount in moves:  # debit the payer, credit the payee (the same code may repeat)
        net.setdefault(payer, []).append(amount)
        net.setdefault(payee, []).append(-amount)
    lines = [(books.avail(bulk[i]), amount) for i, amounts in net.items() for amount in amounts]
    entry = journal.record(lines, key="wide", kind="batch_transfer")
    for n, (payer, payee, amount) in enumerate(moves):
        journal.record([(books.avail(single[payer]), amount), (books.avail(single[payee]), -amount)],
                       key=f"one-{n}", kind="transfer")

    assert [books.balance(books.avail(u)) for u in bulk] == [books.balance(books.avail(u)) for u in single]
    assert db.session.scalar(select(func.count(JournalLine.id)).where(JournalLine.entry_id == entry.id)) == len(lines)
    assert journal.record(lines, key="wide", kind="batch_transfer").id == entry.id  # a replay writes nothing
    assert verify_balances() == [] and verify() == []


def test_a_wide_pending_entry_reserves_then_posts_or_voids_exactly(books):
    users = _open(70_000, WIDTH)
    for user in users:
        books.fund(user, 500, key=f"fund-p-{user}")
    lines = [(books.avail(u), 300) for u in users] + [(CLEARING, -300 * len(users))]  # every user withdraws 300

    held = journal.record(lines, key="withdraw-all", kind="withdraw", pending=True)
    assert {books.spendable(books.avail(u)) for u in users} == {200}
    with pytest.raises(InsufficientFunds):  # what is reserved cannot be spent twice
        journal.record([(books.avail(users[7]), 201), (books.avail(users[8]), -201)], key="too-much", kind="transfer")
    journal.post(held)
    assert {books.balance(books.avail(u)) for u in users} == {200}

    again = journal.record([(books.avail(u), 100) for u in users] + [(CLEARING, -100 * len(users))],
                           key="withdraw-more", kind="withdraw", pending=True)
    journal.void(again)
    assert {(books.balance(books.avail(u)), books.spendable(books.avail(u))) for u in users} == {(200, 200)}
    assert account(CLEARING).pending_credit == 0
    assert verify_balances() == [] and verify() == []


def test_prepared_statements_survive_a_refusal_and_a_server_that_forgot_them(books):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("statements are prepared on PostgreSQL only")
    db.engine.dispose()  # a fresh connection: nothing prepared on it yet
    with pytest.raises(InsufficientFunds):  # the first use of the statements is rolled back
        journal.record([(books.avail(1), 10**9), (books.avail(2), -10**9)], key="refused", kind="transfer")
    books.fund(1, 700)
    journal.record([(books.avail(1), 300), (books.avail(2), -300)], key="after-refusal", kind="transfer")

    db.session.connection().exec_driver_sql("DEALLOCATE ALL")  # e.g. a pooler's DISCARD ALL
    db.session.commit()
    with pytest.raises(Exception):  # this transaction fails, nothing is written
        journal.record([(books.avail(1), 100), (books.avail(2), -100)], key="forgotten", kind="transfer")
    db.session.rollback()
    assert journal.entry_by_key("forgotten") is None
    journal.record([(books.avail(1), 100), (books.avail(2), -100)], key="forgotten", kind="transfer")
    assert books.balance(books.avail(1)) == 300 and books.balance(books.avail(2)) == 400
    assert verify() == []
