"""The journal: balanced entries, idempotency keys, two-phase postings, reversals, typed refusals."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.ledger import journal
from core.ledger.balances import derived_balances, verify, verify_balances
from core.ledger.chart import account
from core.ledger.journal import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidEntry,
    InvalidTransition,
    Line,
    UnbalancedEntry,
    UnknownAccount,
)
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount
from core.plugins import get_plugin_manager
from core import hookimpl
from core.tenancy.scoping import TenantNotBound

from ledger_fixtures import books  # noqa: F401  (fixture; no conftest.py here, see ledger_fixtures)

CLEARING = "platform:bank_clearing"


def entry_count() -> int:
    return db.session.scalar(select(func.count(JournalEntry.id)))


def test_a_balanced_entry_is_posted_and_moves_both_balances(books):
    entry = books.fund(1, 12_345)
    assert entry.state == "posted" and entry.kind == "deposit" and entry.value_date is not None
    assert sorted(line.amount for line in entry.lines) == [-12_345, 12_345]
    assert books.balance(CLEARING) == 12_345
    assert books.balance(books.avail(1)) == 12_345
    assert account(books.avail(1)).balance == -12_345  # raw: credit negative
    assert verify() == []


def test_lines_may_be_line_objects_or_tuples_with_a_currency(books):
    entry = journal.record([Line(CLEARING, 500, "CNY"), (books.avail(2), -500, "CNY")], key="k", kind="deposit")
    assert {line.currency for line in entry.lines} == {"CNY"}


@pytest.mark.parametrize("amount", [12.5, Decimal("12.50"), True, "1250", None])
def test_amounts_that_are_not_ints_are_a_type_error(books, amount):
    with pytest.raises(TypeError, match="int in minor units"):
        journal.record([(CLEARING, amount), (books.avail(1), -1250)], key="k", kind="deposit")
    assert entry_count() == 0


def test_an_unbalanced_entry_is_refused_before_anything_is_written(books):
    with pytest.raises(UnbalancedEntry, match=r"do not sum to zero in CNY \(off by 0.01 CNY\)"):
        journal.record([(CLEARING, 1001), (books.avail(1), -1000)], key="k", kind="deposit")
    assert entry_count() == 0 and books.balance(CLEARING) == 0


def test_zero_lines_single_lines_unknown_accounts_and_wrong_currencies_are_refused(books):
    with pytest.raises(InvalidEntry, match="zero"):
        journal.record([(CLEARING, 0), (books.avail(1), 0)], key="a", kind="deposit")
    with pytest.raises(InvalidEntry, match="at least two lines"):
        journal.record([(CLEARING, 10)], key="b", kind="deposit")
    with pytest.raises(UnknownAccount, match="user:99:available"):
        journal.record([(CLEARING, 10), ("user:99:available", -10)], key="c", kind="deposit")
    with pytest.raises(InvalidEntry, match="kept in CNY"):
        journal.record([(CLEARING, 10, "USD"), (books.avail(1), -10, "USD")], key="d", kind="deposit")
    assert entry_count() == 0


def test_the_same_key_and_body_posts_once(books):
    first = books.fund(1, 700, key="dep-1")
    again = journal.record([(books.avail(1), -700), (CLEARING, 700)], key="dep-1", kind="deposit")  # lines reordered
    assert again.id == first.id
    assert entry_count() == 1 and books.balance(books.avail(1)) == 700


def test_the_same_key_with_another_body_is_refused(books):
    books.fund(1, 700, key="dep-1")
    with pytest.raises(IdempotencyConflict, match="dep-1"):
        books.fund(1, 701, key="dep-1")
    with pytest.raises(IdempotencyConflict):
        journal.record([(CLEARING, 700), (books.avail(2), -700)], key="dep-1", kind="deposit")
    assert entry_count() == 1 and books.balance(books.avail(1)) == 700


def test_a_pending_entry_reserves_its_outflow_until_posted_or_voided(books):
    books.fund(1, 10_000)
    hold = journal.record([(books.avail(1), 7_000), (CLEARING, -7_000)], key="w1", kind="withdraw", pending=True)
    assert hold.state == "pending" and hold.value_date is None
    assert books.balance(books.avail(1)) == 10_000
    assert books.spendable(books.avail(1)) == 3_000
    with pytest.raises(InsufficientFunds, match=r"30.00 CNY available, 40.00 CNY needed"):
        journal.record([(books.avail(1), 4_000), (CLEARING, -4_000)], key="w2", kind="withdraw", pending=True)
    journal.void(hold)
    assert books.spendable(books.avail(1)) == 10_000
    second = journal.record([(books.avail(1), 4_000), (CLEARING, -4_000)], key="w2", kind="withdraw", pending=True)
    posted = journal.post(second)
    assert posted.state == "posted" and posted.value_date is not None
    assert books.balance(books.avail(1)) == 6_000 == books.spendable(books.avail(1))
    assert verify() == []


def test_pending_inflows_are_not_spendable_before_they_are_posted(books):
    incoming = journal.record([(CLEARING, 500), (books.avail(1), -500)], key="d", kind="deposit", pending=True)
    assert books.spendable(books.avail(1)) == 0
    with pytest.raises(InsufficientFunds):
        journal.record([(books.avail(1), 1), (books.avail(2), -1)], key="t", kind="transfer")
    journal.post(incoming)
    assert books.spendable(books.avail(1)) == 500


def test_no_user_account_goes_below_zero(books):
    books.fund(1, 100)
    with pytest.raises(InsufficientFunds, match="user:1:available"):
        journal.record([(books.avail(1), 101), (books.avail(2), -101)], key="t", kind="transfer")
    with pytest.raises(InsufficientFunds, match="user:1:frozen"):
        journal.record([(books.frozen(1), 1), (books.avail(1), -1)], key="u", kind="unfreeze")
    assert books.balance(books.avail(1)) == 100


def test_the_database_itself_refuses_a_negative_balance(books):
    tenant_id = account(CLEARING).tenant_id
    with pytest.raises(IntegrityError):
        db.session.execute(
            update(LedgerAccount.__table__).where(LedgerAccount.__table__.c.code == "user:1:available",
                                                  LedgerAccount.__table__.c.tenant_id == tenant_id)
            .values(balance=5).execution_options(all_tenants=True)
        )
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("first, then", [("post", "post"), ("post", "void"), ("void", "post"), ("void", "void")])
def test_every_wrong_state_change_is_refused_with_a_clear_error(books, first, then):
    books.fund(1, 100)
    hold = journal.record([(books.avail(1), 60), (CLEARING, -60)], key="w", kind="withdraw", pending=True)
    getattr(journal, first)(hold)
    state = "posted" if first == "post" else "voided"
    with pytest.raises(InvalidTransition, match=f"cannot go from {state} to {'posted' if then == 'post' else 'voided'}"):
        getattr(journal, then)(hold)
    assert journal.entry_by_key("w").state == state
    assert verify() == []


def test_a_directly_posted_entry_cannot_be_posted_or_voided(books):
    entry = books.fund(1, 100)
    with pytest.raises(InvalidTransition):
        journal.void(entry)
    with pytest.raises(InvalidTransition):
        journal.post(entry)


def test_reversal_posts_the_opposite_lines_as_a_new_linked_entry(books):
    deposit = books.fund(1, 900)
    reversal = journal.reverse(deposit, "rev-1", memo="typo")
    assert reversal.reversal_of == deposit.id and reversal.state == "posted" and reversal.kind == "reversal"
    assert sorted((l.account.code, l.amount) for l in reversal.lines) == [(CLEARING, -900), (books.avail(1), 900)]
    assert books.balance(books.avail(1)) == 0 and books.balance(CLEARING) == 0
    assert journal.entry_by_key(deposit.idempotency_key).state == "posted"  # never edited
    assert journal.reverse(deposit, "rev-1").id == reversal.id  # idempotent
    with pytest.raises(AlreadyReversed):
        journal.reverse(deposit, "rev-2")
    assert verify() == []


def test_only_posted_entries_can_be_reversed_and_never_into_a_negative_balance(books):
    books.fund(1, 100)
    hold = journal.record([(books.avail(1), 60), (CLEARING, -60)], key="w", kind="withdraw", pending=True)
    with pytest.raises(InvalidTransition, match="Only a posted entry can be reversed"):
        journal.reverse(hold, "r1")
    journal.void(hold)
    with pytest.raises(InvalidTransition):
        journal.reverse(hold, "r2")
    spent = books.fund(2, 50)
    journal.record([(books.avail(2), 50), (books.avail(3), -50)], key="t", kind="transfer")
    with pytest.raises(InsufficientFunds):
        journal.reverse(spent, "r3")


def test_a_batch_entry_pays_two_hundred_investors_at_once(books):
    investors = list(range(100, 300))
    books.open_users(*investors, 900)
    books.fund(900, 2_000_000)
    lines = [(books.avail(900), 2_000_000), ("platform:fee_income", -10_000)]
    lines += [(books.avail(i), -9_950) for i in investors]
    entry = journal.record(lines, key="repay-1", kind="repayment")
    assert len(entry.lines) == 202
    assert books.balance(books.avail(150)) == 9_950 and books.balance("platform:fee_income") == 10_000
    assert books.balance(books.avail(900)) == 0
    assert verify() == []


def test_verify_finds_a_cache_that_disagrees_with_the_lines(books):
    books.fund(1, 100)
    tenant_id = account(CLEARING).tenant_id
    db.session.execute(
        text("UPDATE ledger_account SET balance = balance + 1 WHERE code = :c AND tenant_id = :t"),
        {"c": CLEARING, "t": tenant_id},
    )
    db.session.commit()
    problems = verify_balances()
    assert [p.code for p in problems] == [CLEARING]
    assert problems[0].derived.balance == 100 and problems[0].cached.balance == 101
    assert derived_balances()[account(CLEARING).id].balance == 100


def test_money_moved_is_announced_after_commit_and_a_failing_plugin_undoes_nothing(books, caplog):
    seen = []

    class Listener:
        @hookimpl
        def money_moved(self, tenant, entry):
            committed = db.session.get(JournalEntry, entry.id)
            seen.append((tenant.slug, entry.kind, entry.state, sorted(l.amount for l in entry.lines),
                         committed.state))

    class Broken:
        @hookimpl
        def money_moved(self, entry):  # fewer arguments than the spec: allowed
            raise RuntimeError("plugin bug")

    pm = get_plugin_manager()
    pm.register(Listener(), name="ledger-listener")
    pm.register(Broken(), name="ledger-broken")  # called first (pluggy calls the newest first)
    try:
        books.fund(1, 300)
        hold = journal.record([(books.avail(1), 100), (CLEARING, -100)], key="w", kind="withdraw", pending=True)
        assert len(seen) == 1  # a pending entry moves no money yet
        journal.post(hold)
    finally:
        pm.unregister(name="ledger-listener")
        pm.unregister(name="ledger-broken")
    assert seen == [("alpha", "deposit", "posted", [-300, 300], "posted"),
                    ("alpha", "withdraw", "posted", [-100, 100], "posted")]
    assert books.balance(books.avail(1)) == 200
    assert "money_moved plugin ledger-broken failed" in caplog.text


def test_writing_the_books_needs_a_bound_tenant(app):
    with pytest.raises(TenantNotBound):
        journal.record([(CLEARING, 1), ("user:1:available", -1)], key="k", kind="deposit")


def test_lines_are_stored_with_the_entry_and_sum_to_zero(books):
    books.fund(1, 100)
    books.fund(2, 250)
    rows = db.session.execute(select(JournalLine.entry_id, func.sum(JournalLine.amount))
                              .group_by(JournalLine.entry_id)).all()
    assert len(rows) == 2 and all(total == 0 for _, total in rows)
