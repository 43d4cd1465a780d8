"""Properties of the bank engine under any sequence of instructions (hypothesis).

* no balance ever goes negative;
* the money held changes only by confirmed deposits minus confirmed withdrawals;
* the engine decides exactly like a ten-line reference model;
* resubmitting an earlier request_no never changes anything.
"""
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.custody.provider import Instruction, TransferItem
from plugins.payment_custody.engine import BankEngine

ACCOUNTS = ("a", "b", "c")
CARD = "4111111111111111"

accounts = st.sampled_from(ACCOUNTS)
amounts = st.integers(min_value=1, max_value=5_000)


@st.composite
def operations(draw):
    kind = draw(st.sampled_from(("deposit", "withdraw", "freeze", "unfreeze", "transfer", "batch_transfer",
                                 "repeat")))
    if kind == "repeat":
        return ("repeat", draw(st.integers(min_value=0, max_value=10_000)))
    if kind == "batch_transfer":
        legs = draw(st.lists(st.tuples(accounts, accounts, amounts, st.booleans())
                             .filter(lambda leg: leg[0] != leg[1]), min_size=1, max_size=4))
        return ("batch_transfer", tuple(TransferItem(*leg) for leg in legs))
    if kind == "transfer":
        source, target = draw(st.tuples(accounts, accounts).filter(lambda p: p[0] != p[1]))
        return ("transfer", source, target, draw(amounts), draw(st.booleans()))
    return (kind, draw(accounts), draw(amounts))


def build(op, request_no):
    if op[0] == "batch_transfer":
        return Instruction(request_no, "batch_transfer", None, sum(i.amount for i in op[1]), "CNY", items=op[1])
    if op[0] == "transfer":
        return Instruction(request_no, "transfer", op[1], op[3], "CNY", counterparty=op[2], from_frozen=op[4])
    return Instruction(request_no, op[0], op[1], op[2], "CNY")


def model_apply(state, ins):
    """Reference model: returns the new state or None when the bank must refuse."""
    new = {k: list(v) for k, v in state.items()}
    legs = ([(i.source, i.target, i.amount, i.from_frozen) for i in ins.items] if ins.kind == "batch_transfer"
            else [(ins.account, ins.counterparty, ins.amount, ins.from_frozen)])
    for source, target, amount, from_frozen in legs:
        if ins.kind == "deposit":
            new[source][0] += amount
        elif ins.kind == "withdraw":
            new[source][0] -= amount
        elif ins.kind == "freeze":
            new[source][0] -= amount
            new[source][1] += amount
        elif ins.kind == "unfreeze":
            new[source][0] += amount
            new[source][1] -= amount
        else:
            new[source][1 if from_frozen else 0] -= amount
            new[target][0] += amount
        if any(v < 0 for pair in new.values() for v in pair):
            return None
    return new


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations(), min_size=1, max_size=40))
def test_random_instruction_sequences_keep_the_books_sound(ops):
    engine = BankEngine("sqlite://", clock=lambda: datetime(2025, 3, 1, 12, tzinfo=timezone.utc))
    try:
        for name in ACCOUNTS:
            assert engine.submit(Instruction(f"open-{name}", "open_account", name, 0, "CNY",
                                             details={"name": name, "id_number": name, "card_number": CARD})
                                 ).status == "confirmed"
        state = {name: [0, 0] for name in ACCOUNTS}
        sent: list[Instruction] = []
        net_in = 0
        for n, op in enumerate(ops):
            if op[0] == "repeat":
                if not sent:
                    continue
                earlier = sent[op[1] % len(sent)]
                before = engine.balances()
                first = engine.query(earlier.request_no)
                assert engine.submit(earlier) == first
                assert engine.balances() == before
                continue
            instruction = build(op, f"R{n:04d}")
            sent.append(instruction)
            expected = model_apply(state, instruction)
            result = engine.submit(instruction)
            if expected is None:
                assert (result.status, result.reason) == ("refused", "insufficient_funds")
            else:
                assert result.status == "confirmed"
                state = expected
                net_in += {"deposit": instruction.amount, "withdraw": -instruction.amount}.get(instruction.kind, 0)
            balances = engine.balances()
            assert all(b.available >= 0 and b.frozen >= 0 for b in balances)
            assert sum(b.total for b in balances) == net_in
            assert {b.account: [b.available, b.frozen] for b in balances} == state
        statement = engine.statement(datetime(2025, 3, 1).date(), "CNY")
        assert list(statement.closing_balances) == engine.balances()
    finally:
        engine.close()
