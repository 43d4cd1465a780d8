"""Property tests: any sequence of postings, holds, posts, voids, reversals and replays keeps the books whole.

A simple model predicts every balance and every refusal; after each step the
database must agree with it, every entry must sum to zero, every cached
balance must equal its lines and no user account may be spendable below zero.
"""
import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from core.extensions import db
from core.ledger import journal
from core.ledger.balances import verify
from core.ledger.chart import account, open_user_accounts
from core.ledger.journal import IdempotencyConflict, InsufficientFunds, InvalidTransition
from core.ledger.models import LedgerAccount

from ledger_fixtures import books  # noqa: F401  (fixture; no conftest.py here, see ledger_fixtures)

CLEARING = "platform:bank_clearing"
_user_ids = itertools.count(10_000, 10)

SETTINGS = settings(max_examples=20, stateful_step_count=20, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def make_machine():
    class Books(RuleBasedStateMachine):
        """The ledger against a dictionary model of it."""

        holds = Bundle("holds")
        posted = Bundle("posted")

        def __init__(self):
            super().__init__()
            base = next(_user_ids)
            self.users = [base + i for i in range(1, 5)]
            for user in self.users:
                open_user_accounts(user)
            self.codes = [f"user:{u}:{b}" for u in self.users for b in ("available", "frozen")]
            self.balance = {code: 0 for code in self.codes}  # posted, normal side
            self.reserved = {code: 0 for code in self.codes}  # pending outflows
            self.clearing_start = account(CLEARING).balance
            self.clearing = 0
            self.entries = {}  # key -> {"lines", "state", "id"}
            self.reversed = set()
            self.keys = itertools.count(1)

        # -- the model --------------------------------------------------------------------

        def key(self, kind):
            return f"{kind}-{self.users[0]}-{next(self.keys)}"

        def outflows(self, lines, pending):
            """What an entry takes out of each user account (the ledger's own rule)."""
            out = {}
            for code, amount in lines:
                if code not in self.balance:
                    continue
                if pending:
                    out[code] = out.get(code, 0) + max(amount, 0)
                else:
                    out[code] = out.get(code, 0) + amount
            return {code: v for code, v in out.items() if v > 0}

        def fits(self, lines, pending):
            return all(self.balance[c] - self.reserved[c] - v >= 0 for c, v in self.outflows(lines, pending).items())

        def apply(self, lines, *, pending):
            for code, amount in lines:
                if code == CLEARING:
                    if not pending:
                        self.clearing += amount
                elif pending:
                    if amount > 0:
                        self.reserved[code] += amount
                else:
                    self.balance[code] -= amount  # credit-normal: a debit lowers the balance

        def release(self, lines, *, post):
            for code, amount in lines:
                if code == CLEARING:
                    if post:
                        self.clearing += amount
                    continue
                if amount > 0:
                    self.reserved[code] -= amount
                if post:
                    self.balance[code] -= amount

        def lines_for(self, kind, user, other, amount):
            a, f = f"user:{user}:available", f"user:{user}:frozen"
            return {
                "withdraw": [(a, amount), (CLEARING, -amount)],
                "freeze": [(a, amount), (f, -amount)],
                "unfreeze": [(f, amount), (a, -amount)],
                "transfer": [(a, amount), (f"user:{other}:available", -amount)],
            }[kind]

        def record(self, kind, lines, pending):
            key = self.key(kind)
            if not self.fits(lines, pending):
                with pytest.raises(InsufficientFunds):
                    journal.record(lines, key=key, kind=kind, pending=pending)
                return None
            entry = journal.record(lines, key=key, kind=kind, pending=pending)
            self.apply(lines, pending=pending)
            self.entries[key] = {"lines": lines, "state": "pending" if pending else "posted", "id": entry.id,
                                 "kind": kind}
            return key

        # -- rules ------------------------------------------------------------------------

        @rule(target=posted, user=st.integers(0, 3), amount=st.integers(1, 10_000))
        def deposit(self, user, amount):
            lines = [(CLEARING, amount), (f"user:{self.users[user]}:available", -amount)]
            return self.record("deposit", lines, False)

        @rule(target=holds, kind=st.sampled_from(["withdraw", "freeze", "unfreeze", "transfer"]),
              user=st.integers(0, 3), other=st.integers(1, 3), amount=st.integers(1, 8_000))
        def hold(self, kind, user, other, amount):
            lines = self.lines_for(kind, self.users[user], self.users[(user + other) % 4], amount)
            key = self.record(kind, lines, True)
            return key if key is not None else multiple()

        @rule(target=posted, kind=st.sampled_from(["withdraw", "freeze", "unfreeze", "transfer"]),
              user=st.integers(0, 3), other=st.integers(1, 3), amount=st.integers(1, 8_000))
        def move(self, kind, user, other, amount):
            lines = self.lines_for(kind, self.users[user], self.users[(user + other) % 4], amount)
            key = self.record(kind, lines, False)
            return key if key is not None else multiple()

        @rule(target=posted, key=consumes(holds))
        def post(self, key):
            journal.post(self.entries[key]["id"])
            self.release(self.entries[key]["lines"], post=True)
            self.entries[key]["state"] = "posted"
            return key

        @rule(key=consumes(holds))
        def void(self, key):
            journal.void(self.entries[key]["id"])
            self.release(self.entries[key]["lines"], post=False)
            self.entries[key]["state"] = "voided"

        @rule(target=posted, key=posted)
        def reverse(self, key):
            if key in self.reversed:
                return multiple()
            lines = [(code, -amount) for code, amount in self.entries[key]["lines"]]
            rkey = self.key("reversal")
            if not self.fits(lines, False):
                with pytest.raises(InsufficientFunds):
                    journal.reverse(self.entries[key]["id"], rkey)
                return multiple()
            reversal = journal.reverse(self.entries[key]["id"], rkey)
            self.reversed.add(key)
            self.apply(lines, pending=False)
            self.entries[rkey] = {"lines": lines, "state": "posted", "id": reversal.id, "kind": "reversal"}
            return rkey

        @rule(key=st.one_of(posted, holds))
        def replay_changes_nothing(self, key):
            entry = self.entries[key]
            if entry["kind"] == "reversal":
                return
            again = journal.record(list(reversed(entry["lines"])), key=key, kind=entry["kind"],
                                   pending=entry["state"] == "pending")
            assert again.id == entry["id"]

        @rule(key=st.one_of(posted, holds), extra=st.integers(1, 5))
        def conflicting_replay_is_refused(self, key, extra):
            entry = self.entries[key]
            lines = [(code, amount + extra if amount > 0 else amount - extra) for code, amount in entry["lines"]]
            with pytest.raises(IdempotencyConflict):
                journal.record(lines, key=key, kind=entry["kind"])

        @rule(key=posted, action=st.sampled_from(["post", "void"]))
        def finished_entries_cannot_change_state(self, key, action):
            with pytest.raises(InvalidTransition):
                getattr(journal, action)(self.entries[key]["id"])

        # -- invariants -------------------------------------------------------------------

        @invariant()
        def books_agree_with_the_model(self):
            assert verify() == []
            rows = db.session.scalars(
                select(LedgerAccount).where(LedgerAccount.code.in_(self.codes + [CLEARING]))
                .execution_options(populate_existing=True)
            ).all()
            by_code = {row.code: row for row in rows}
            for code in self.codes:
                row = by_code[code]
                assert row.posted_balance == self.balance[code], code
                assert row.spendable == self.balance[code] - self.reserved[code] >= 0, code
            assert by_code[CLEARING].balance - self.clearing_start == self.clearing

    return Books


def test_any_sequence_of_operations_keeps_the_books_whole(books):
    run_state_machine_as_test(make_machine(), settings=SETTINGS)
