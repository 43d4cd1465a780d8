"""The sandbox bank engine keeps the true balances: its rules, idempotency and statements."""
import threading
from datetime import date

import pytest

from core.custody.provider import Balance, CustodyError
from plugins.payment_custody.engine import BankEngine, card_number_ok


@pytest.fixture
def funded(engine, ins):
    """alice holds 10 000 available; bob and carol are empty."""
    for name in ("alice", "bob", "carol"):
        assert engine.submit(ins.open(name)).status == "confirmed"
    assert engine.submit(ins.deposit("alice", 10_000)).status == "confirmed"
    return engine


def bal(engine, account):
    b = engine.balance(account)
    return b.available, b.frozen


def test_open_account_binds_a_card_and_starts_empty(engine, ins):
    result = engine.submit(ins.open("alice"))
    assert result.status == "confirmed" and result.bank_ref
    assert engine.balance("alice") == Balance("alice", 0, 0)


def test_open_account_refusals(engine, ins):
    engine.submit(ins.open("alice"))
    assert engine.submit(ins.open("alice")).reason == "duplicate_account"
    bad = engine.submit(ins.open("bob", card="6222020000000001"))
    assert (bad.status, bad.reason) == ("refused", "invalid_card")
    with pytest.raises(CustodyError) as err:
        engine.balance("bob")
    assert err.value.reason == "unknown_account"


def test_card_numbers_must_pass_luhn():
    assert card_number_ok("4111111111111111")
    assert not card_number_ok("4111111111111112")
    assert not card_number_ok("41111111")
    assert not card_number_ok("4111-1111-1111-1111")


def test_deposit_and_withdraw_move_available_funds(funded, ins):
    assert funded.submit(ins.withdraw("alice", 2_500)).status == "confirmed"
    assert bal(funded, "alice") == (7_500, 0)


def test_withdraw_beyond_available_is_refused_and_moves_nothing(funded, ins):
    result = funded.submit(ins.withdraw("alice", 10_001))
    assert (result.status, result.reason) == ("refused", "insufficient_funds")
    assert bal(funded, "alice") == (10_000, 0)


def test_unknown_account_and_currency_mismatch_are_refused(funded, ins):
    assert funded.submit(ins.deposit("nobody", 5)).reason == "unknown_account"
    assert funded.submit(ins.deposit("alice", 5, currency="USD")).reason == "currency_mismatch"
    assert funded.submit(ins.transfer("alice", "nobody", 5)).reason == "unknown_account"
    assert bal(funded, "alice") == (10_000, 0)


def test_freeze_moves_available_to_frozen_and_unfreeze_back(funded, ins):
    assert funded.submit(ins.freeze("alice", 4_000)).status == "confirmed"
    assert bal(funded, "alice") == (6_000, 4_000)
    assert funded.submit(ins.unfreeze("alice", 1_000)).status == "confirmed"
    assert bal(funded, "alice") == (7_000, 3_000)
    assert funded.submit(ins.freeze("alice", 7_001)).reason == "insufficient_funds"
    assert funded.submit(ins.unfreeze("alice", 3_001)).reason == "insufficient_funds"
    assert bal(funded, "alice") == (7_000, 3_000)


def test_transfer_takes_available_funds(funded, ins):
    assert funded.submit(ins.transfer("alice", "bob", 1_500)).status == "confirmed"
    assert (bal(funded, "alice"), bal(funded, "bob")) == ((8_500, 0), (1_500, 0))
    assert funded.submit(ins.transfer("bob", "alice", 1_501)).reason == "insufficient_funds"


def test_transfer_from_frozen_pays_out_frozen_bids(funded, ins):
    """A funded loan: the investor's frozen bid goes to the borrower's available funds."""
    funded.submit(ins.freeze("alice", 3_000))
    assert funded.submit(ins.transfer("alice", "bob", 3_000, from_frozen=True)).status == "confirmed"
    assert (bal(funded, "alice"), bal(funded, "bob")) == ((7_000, 0), (3_000, 0))
    refused = funded.submit(ins.transfer("alice", "bob", 1, from_frozen=True))
    assert refused.reason == "insufficient_funds"  # available funds are not touched


def test_batch_transfer_is_all_or_nothing(funded, ins):
    funded.submit(ins.freeze("alice", 5_000))
    too_much = funded.submit(ins.batch(("alice", "bob", 3_000, True), ("alice", "carol", 3_000, True)))
    assert (too_much.status, too_much.reason) == ("refused", "insufficient_funds")
    assert too_much.raw["detail"]["item"] == 1
    assert (bal(funded, "alice"), bal(funded, "bob"), bal(funded, "carol")) == ((5_000, 5_000), (0, 0), (0, 0))

    ok = funded.submit(ins.batch(("alice", "bob", 3_000, True), ("alice", "carol", 2_000, True),
                                 ("alice", "carol", 500, False)))
    assert ok.status == "confirmed"
    assert (bal(funded, "alice"), bal(funded, "bob"), bal(funded, "carol")) == ((4_500, 0), (3_000, 0), (2_500, 0))


def test_batch_with_an_unknown_account_moves_nothing(funded, ins):
    result = funded.submit(ins.batch(("alice", "bob", 100, False), ("alice", "ghost", 100, False)))
    assert result.reason == "unknown_account"
    assert bal(funded, "alice") == (10_000, 0)


def test_submit_is_idempotent_per_request_no(funded, ins):
    instruction = ins.transfer("alice", "bob", 1_000)
    first = funded.submit(instruction)
    again = funded.submit(instruction)
    assert again == first and again.bank_ref == first.bank_ref
    assert bal(funded, "bob") == (1_000, 0)


def test_a_refusal_is_final_for_its_request_no(funded, ins):
    instruction = ins.withdraw("alice", 20_000)
    assert funded.submit(instruction).reason == "insufficient_funds"
    funded.submit(ins.deposit("alice", 20_000))
    assert funded.submit(instruction).reason == "insufficient_funds"  # same request_no, same answer
    assert bal(funded, "alice") == (30_000, 0)


def test_request_no_reuse_with_a_different_body_is_refused(funded, ins):
    funded.submit(ins.transfer("alice", "bob", 1_000, request_no="PAY-1"))
    reused = funded.submit(ins.transfer("alice", "bob", 9_000, request_no="PAY-1"))
    assert (reused.status, reused.reason) == ("refused", "request_no_reused")
    assert funded.query("PAY-1").status == "confirmed"  # the first outcome stands
    assert bal(funded, "bob") == (1_000, 0)


def test_query_reports_outcomes_and_unknown_requests(funded, ins):
    instruction = ins.deposit("alice", 5)
    submitted = funded.submit(instruction)
    assert funded.query(instruction.request_no) == submitted
    unknown = funded.query("NEVER-SENT")
    assert (unknown.status, unknown.reason) == ("refused", "unknown_request")


def test_deferred_instructions_stay_pending_until_settled(funded, ins):
    instruction = ins.withdraw("alice", 4_000)
    pending = funded.submit(instruction, defer=True, notify_url="http://127.0.0.1:1/cb")
    assert pending.status == "pending" and pending.bank_ref
    assert funded.submit(instruction, defer=True).status == "pending"  # still the same request
    assert funded.pending() == [(instruction.request_no, "http://127.0.0.1:1/cb")]
    assert bal(funded, "alice") == (10_000, 0)
    settled = funded.settle(instruction.request_no)
    assert settled.status == "confirmed" and settled.bank_ref == pending.bank_ref
    assert funded.settle(instruction.request_no) == settled  # settling twice moves nothing
    assert bal(funded, "alice") == (6_000, 0)
    assert funded.pending() == []


def test_statement_lists_the_days_movements_and_balances(engine, ins, clock):
    """Opening (previous closing) + the day's line effects = closing, for every account."""
    for name in ("alice", "bob"):
        engine.submit(ins.open(name))
    engine.submit(ins.deposit("alice", 10_000))
    engine.submit(ins.freeze("alice", 6_000))
    engine.submit(ins.withdraw("alice", 99_999))  # refused: not a movement
    day1 = clock().date()
    clock.advance(days=1)
    engine.submit(ins.open("carol"))
    engine.submit(ins.batch(("alice", "bob", 4_000, True), ("alice", "carol", 2_000, True)))
    engine.submit(ins.withdraw("bob", 1_000))
    engine.submit(ins.deposit("carol", 300, currency="USD"))  # refused: currency mismatch
    day2 = clock().date()

    first = engine.statement(day1, "CNY")
    assert [ln.kind for ln in first.lines] == ["deposit", "freeze"]
    assert first.closing_balances == (Balance("alice", 4_000, 6_000), Balance("bob", 0, 0))

    second = engine.statement(day2, "CNY")
    assert [(ln.kind, ln.account, ln.counterparty, ln.amount) for ln in second.lines] == [
        ("batch_transfer", "alice", "bob", 4_000),
        ("batch_transfer", "alice", "carol", 2_000),
        ("withdraw", "bob", None, 1_000),
    ]
    assert all(ln.confirmed_at.date() == day2 for ln in second.lines)
    opening = {b.account: [b.available, b.frozen] for b in first.closing_balances}
    for line in second.lines:
        for account, d_available, d_frozen in line.effects():
            bucket = opening.setdefault(account, [0, 0])
            bucket[0] += d_available
            bucket[1] += d_frozen
    assert {b.account: [b.available, b.frozen] for b in second.closing_balances} == opening
    assert list(second.closing_balances) == engine.balances("CNY")  # the last day closes at today's balances
    assert engine.statement(day1, "USD").lines == ()
    assert engine.statement(date(2024, 1, 1), "CNY").closing_balances == ()


def test_concurrent_submissions_never_lose_or_double_a_movement(tmp_path, ins, clock):
    """Two engines on one database file, eight threads: every transfer lands exactly once."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engines = [BankEngine(url, clock=clock), BankEngine(url, clock=clock)]
    try:
        for name in ("a", "b", "c", "d"):
            engines[0].submit(ins.open(name))
            engines[0].submit(ins.deposit(name, 1_000))
        plan = [ins.transfer("abcd"[i % 4], "abcd"[(i + 1) % 4], 1 + i % 7) for i in range(160)]
        same = ins.deposit("a", 50)  # everyone also races to submit this one request
        outcomes, errors = {}, []

        def work(k):
            try:
                for instruction in plan[k::8]:
                    outcomes[instruction.request_no] = engines[k % 2].submit(instruction).status
                engines[k % 2].submit(same)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        balances = engines[1].balances()
        assert sum(b.total for b in balances) == 4_050
        assert all(b.available >= 0 and b.frozen >= 0 for b in balances)
        statement = engines[1].statement(clock().date(), "CNY")
        confirmed = {no for no, status in outcomes.items() if status == "confirmed"}
        assert sorted(ln.request_no for ln in statement.lines if ln.kind == "transfer") == sorted(confirmed)
        assert [ln.request_no for ln in statement.lines].count(same.request_no) == 1
    finally:
        for eng in engines:
            eng.close()
