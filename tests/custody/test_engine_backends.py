"""The bank engine's set-based writes give the same books on every database.

On PostgreSQL an instruction's accounts are locked by one statement, their new
balances written by one statement and its movements inserted by one statement
(arrays sent as literals); on SQLite by executemany. Wide batches, awkward
account names and refusals must come out exactly as a leg-by-leg reference
model says, on both.
"""
import os
import random
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from core.custody.provider import Instruction, TransferItem
from plugins.payment_custody.engine import BankEngine

PG_URL = os.environ.get("LENDKIT_TEST_DATABASE_URL", "")
CARD = "4111111111111111"
NOON = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)
#: Names that need quoting inside a PostgreSQL array literal.
AWKWARD = ('NULL', 'a,b', 'q"uote', 'back\\slash', '{brace}', 'sp ace', '客户-1')


def _admin(sql: str) -> None:
    engine = sa.create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if PG_URL else []))
def bank_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('bank') / 'bank.db'}"
        return
    name = f"{make_url(PG_URL).database}_bank_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty(eng: BankEngine) -> BankEngine:
    with eng._engine.begin() as conn:  # a clean bank
        for table in ("bank_movements", "bank_instructions", "bank_accounts"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    return eng


@pytest.fixture
def engine(bank_url):
    eng = _empty(BankEngine(bank_url, clock=lambda: NOON))
    yield eng
    eng.close()


def _open(engine, names):
    for name in names:
        result = engine.submit(Instruction(f"open-{name}", "open_account", name, 0, "CNY",
                                           details={"name": "x", "id_number": "x", "card_number": CARD}))
        assert result.status == "confirmed", (name, result)


def _model(state, ins):
    """Leg by leg: the new balances, or None when any leg would take a balance below zero."""
    new = {k: list(v) for k, v in state.items()}
    if ins.kind == "deposit":
        new[ins.account][0] += ins.amount
        return new
    for item in ins.items:
        new[item.source][1 if item.from_frozen else 0] -= item.amount
        new[item.target][0] += item.amount
        if new[item.source][0] < 0 or new[item.source][1] < 0:
            return None
    return new


def _balances(engine, names):
    return {b.account: [b.available, b.frozen] for b in engine.balances("CNY") if b.account in names}


def test_a_wide_batch_moves_every_leg_exactly(engine):
    names = [f"U{i}" for i in range(1, 301)] + list(AWKWARD)
    _open(engine, names)
    state = {n: [0, 0] for n in names}
    for n in names:
        deposit = Instruction(f"dep-{n}", "deposit", n, 10_000, "CNY")
        assert engine.submit(deposit).status == "confirmed"
        state = _model(state, deposit)
    freeze = Instruction("frz", "freeze", "U1", 4_000, "CNY")
    assert engine.submit(freeze).status == "confirmed"
    state["U1"] = [6_000, 4_000]
    rng = random.Random(7)
    items = tuple(TransferItem(src, dst, rng.randint(1, 40), src == "U1" and rng.random() < 0.5)
                  for src, dst in ((rng.choice(names), rng.choice(names)) for _ in range(600)) if src != dst)
    batch = Instruction("wide", "batch_transfer", None, sum(i.amount for i in items), "CNY", items=items)

    result = engine.submit(batch)

    assert result.status == "confirmed"
    assert _balances(engine, names) == _model(state, batch)
    lines = [line for line in engine.statement(NOON.date(), "CNY").lines if line.request_no == "wide"]
    assert [(ln.account, ln.counterparty, ln.amount, ln.from_frozen) for ln in lines] == \
        [(i.source, i.target, i.amount, i.from_frozen) for i in items]  # one line per item, in order
    deposits = [ln for ln in engine.statement(NOON.date(), "CNY").lines if ln.kind == "deposit"]
    assert {ln.counterparty for ln in deposits} == {None}


def test_a_batch_refused_by_one_leg_moves_nothing(engine):
    names = [f"U{i}" for i in range(1, 51)] + list(AWKWARD)
    _open(engine, names)
    for n in names:
        engine.submit(Instruction(f"dep-{n}", "deposit", n, 100, "CNY"))
    before = _balances(engine, names)
    items = tuple(TransferItem(names[i], names[i + 1], 50) for i in range(len(names) - 1))
    items += (TransferItem("q\"uote", "NULL", 10_000),)  # the last leg overdraws
    result = engine.submit(Instruction("too-much", "batch_transfer", None, sum(i.amount for i in items), "CNY",
                                       items=items))

    assert (result.status, result.reason) == ("refused", "insufficient_funds")
    assert result.raw["detail"] == {"account": 'q"uote', "item": len(items) - 1}
    assert _balances(engine, names) == before
    assert not [ln for ln in engine.statement(NOON.date(), "CNY").lines if ln.request_no == "too-much"]


names_ = st.sampled_from(("a", "NULL", 'q"uote', "back\\slash"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.tuples(names_, names_, st.integers(1, 300), st.booleans())
                         .filter(lambda leg: leg[0] != leg[1]), min_size=1, max_size=12),
                min_size=1, max_size=8))
def test_random_batches_match_the_leg_by_leg_model(engine, batches):
    names = ["a", "NULL", 'q"uote', "back\\slash"]
    engine = _empty(engine)  # one bank for every example: emptied each time
    _open(engine, names)
    state = {n: [0, 0] for n in names}
    for n in names:
        deposit = Instruction(f"dep-{n}", "deposit", n, 500, "CNY")
        assert engine.submit(deposit).status == "confirmed"
        state = _model(state, deposit)
    for number, legs in enumerate(batches):
        items = tuple(TransferItem(*leg) for leg in legs)
        batch = Instruction(f"b-{number}", "batch_transfer", None, sum(i.amount for i in items), "CNY",
                            items=items)
        expected = _model(state, batch)
        result = engine.submit(batch)
        assert result.status == ("refused" if expected is None else "confirmed")
        state = state if expected is None else expected
        assert _balances(engine, names) == state
