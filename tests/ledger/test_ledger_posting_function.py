"""PostgreSQL: the server's posting function and the Python checks give the same verdict on any entry.

``core.ledger.journal.write_entry`` writes a small entry on PostgreSQL through
``lendkit_ledger_record`` (migration 0018) and falls back to the Python checks
only to explain a refusal. Were the two to disagree, an entry the function
refuses but Python accepts would be written by the fallback and never noticed,
so they are compared here directly: the same lines, on the same locked rows, in
one transaction that is rolled back.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.extensions import db
from core.ledger import journal
from core.ledger.errors import LedgerError
from core.ledger.models import JournalEntry, LedgerAccount

from ledger_fixtures import books  # noqa: F401  (fixture; no conftest.py here, see ledger_fixtures)

CLEARING = "platform:bank_clearing"
# users 1-3 are opened by the fixture; user 9 is not: its codes are unknown accounts
CODES = [CLEARING, "platform:fee_income", "platform:risk_reserve",
         "user:1:available", "user:1:frozen", "user:2:available", "user:2:frozen", "user:3:available",
         "user:9:available"]


@pytest.fixture
def postgres_books(books):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the posting function exists on PostgreSQL only")
    books.fund(1, 5_000)
    books.fund(2, 300)
    # a pending hold: user 2's 200 reserved, so only 100 of its 300 are spendable
    journal.record([("user:2:available", 200), ("user:2:frozen", -200)], key="hold", kind="freeze", pending=True)
    return books


class _Rollback(Exception):
    pass


def _snapshot():
    return {code: (balance, pd, pc) for code, balance, pd, pc in db.session.execute(
        select(LedgerAccount.code, LedgerAccount.balance, LedgerAccount.pending_debit, LedgerAccount.pending_credit)
        .execution_options(populate_existing=True))}


def _verdicts(lines, pending):
    """(Python's verdict, the function's outcome, balances after the call, balances before, entries written)."""
    norm = journal._normalise(lines)
    found = {}
    try:
        with journal.writing() as tx:
            before = _snapshot()
            rows = journal._lock_accounts(tx, codes=[code for code, _, _ in norm])
            try:
                _, changed = journal._check_lines(norm, rows, pending)
                found["python"] = ("accept", {row[1]: tuple(changed[row[0]]) for row in rows})
            except LedgerError as exc:
                found["python"] = ("refuse", type(exc).__name__)
            entries = db.session.scalar(select(db.func.count(JournalEntry.id)))
            now = journal.utcnow()
            _, outcome = journal._record_on_server(tx, norm, key="verdict", digest="0" * 64, kind="test", memo="",
                                                   pending=pending, reversal_of=None, request_no=None,
                                                   value_date=now.date(), now=now)
            found["function"] = outcome
            found["after"] = _snapshot()
            found["before"] = before
            found["written"] = db.session.scalar(select(db.func.count(JournalEntry.id))) - entries
            raise _Rollback
    except _Rollback:
        pass
    return found


line = st.tuples(st.sampled_from(CODES), st.integers(-6_000, 6_000).filter(bool),
                 st.sampled_from([None, None, None, "CNY", "USD"]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line, min_size=2, max_size=5), pending=st.booleans(), balanced=st.booleans())
def test_the_function_accepts_exactly_what_the_python_checks_accept(postgres_books, lines, pending, balanced):
    if balanced:  # most interesting entries sum to zero: make the last line balance the others
        code, _, currency = lines[-1]
        rest = -sum(amount for _, amount, _ in lines[:-1])
        if rest == 0:
            return
        lines[-1] = (code, rest, currency)
    found = _verdicts(lines, pending)
    python, outcome = found["python"], found["function"]
    assert outcome == ("created" if python[0] == "accept" else "refused"), (python, outcome)
    if outcome == "created":  # it wrote what Python computed, one entry
        assert found["written"] == 1
        for code, values in python[1].items():
            assert found["after"][code] == values, code
    else:  # it wrote nothing, and the caller's transaction still works (the snapshot above ran in it)
        assert found["written"] == 0
        assert found["after"] == found["before"]


def test_a_refused_entry_is_explained_by_the_python_checks_and_leaves_the_books_as_they_were(postgres_books):
    before = _snapshot()
    with pytest.raises(journal.InsufficientFunds, match="user:2:available"):
        journal.record([("user:2:available", 150), ("user:3:available", -150)], key="too-much", kind="transfer")
    assert _snapshot() == before
    assert journal.entry_by_key("too-much") is None


def test_a_replayed_key_returns_the_first_entry_and_a_changed_body_is_refused(postgres_books):
    first = journal.record([("user:1:available", 100), ("user:3:available", -100)], key="pay", kind="transfer")
    before = _snapshot()
    again = journal.record([("user:1:available", 100), ("user:3:available", -100)], key="pay", kind="transfer")
    assert again.id == first.id and _snapshot() == before
    with pytest.raises(journal.IdempotencyConflict):
        journal.record([("user:1:available", 101), ("user:3:available", -101)], key="pay", kind="transfer")
    assert _snapshot() == before
