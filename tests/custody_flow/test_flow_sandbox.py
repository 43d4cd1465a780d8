"""Money operations against the in-process sandbox bank: instructions, pending entries, postings, refusals."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text

from core.custody import instructions, service
from core.custody.instructions import provider_for
from core.custody.models import CustodyInstruction
from core.custody.provider import Balance, BankResult, Instruction
from core.custody.reconcile import reconcile
from core.custody.service import Leg
from core.extensions import db
from core.ledger import journal
from core.ledger.balances import verify
from core.ledger.chart import account, open_user_accounts
from core.ledger.journal import IdempotencyConflict, InsufficientFunds, InvalidTransition, UnknownAccount
from core.ledger.models import JournalEntry

from flow_fixtures import flow  # noqa: F401  (fixture; no conftest.py here, see flow_fixtures)
from testbed import statements


def bank():
    return provider_for(instructions.current_tenant())


def today():
    return datetime.now(timezone.utc).date()


def instruction_count() -> int:
    return db.session.scalar(select(func.count(CustodyInstruction.id)))


def test_opening_an_account_opens_its_ledger_accounts(flow):
    done = flow.open_user(7)
    assert done.kind == "open_account" and done.bank_ref and done.entry_id is None
    assert account("user:7:available").custody_account == "U7"
    assert account("user:7:frozen").custody_bucket == "frozen"
    assert bank().balance("U7").total == 0


def test_personal_details_are_sealed_in_the_database_and_opened_to_resend(flow):
    done = service.open_account(5, name="张三", id_number="110105199003070017", card_number="6222021234567890128",
                                key="open-5")
    assert done.state == "confirmed"
    raw = db.session.execute(text("SELECT body, digest FROM custody_instruction WHERE request_no = :n"),
                             {"n": done.request_no}).one()
    stored = str(raw.body) + raw.digest
    for secret in ("110105199003070017", "6222021234567890128", "张三"):
        assert secret not in stored
    again = instructions.instruction_of(done, instructions.current_tenant())
    assert dict(again.details) == {"name": "张三", "id_number": "110105199003070017",
                                   "card_number": "6222021234567890128"}
    assert bank().engine.instruction(done.request_no).fingerprint() == again.fingerprint()  # a resend is identical
    assert service.open_account(5, name="张三", id_number="110105199003070017", card_number="6222021234567890128",
                                key="open-5").id == done.id
    with pytest.raises(IdempotencyConflict):
        service.open_account(5, name="张三", id_number="110105199003070018", card_number="6222021234567890128",
                             key="open-5")


def test_an_invalid_card_is_refused_and_opens_nothing(flow):
    done = service.open_account(8, name="User 8", id_number="ID8", card_number="1234", key="open-8")
    assert done.state == "refused" and done.reason == "invalid_card"
    assert account("user:8:available") is None


def test_deposit_freeze_and_transfer_from_frozen_with_fees(flow):
    flow.open_user(1)  # investor
    flow.open_user(2)  # borrower
    deposit = service.deposit(1, 100_000, key="dep-1")
    assert deposit.state == "confirmed" and deposit.entry.state == "posted"
    assert flow.available(1) == 100_000 and bank().balance("U1").available == 100_000
    bid = service.freeze(1, 60_000, key="bid-1")
    assert bid.state == "confirmed"
    assert (flow.available(1), flow.frozen(1)) == (40_000, 60_000)
    assert bank().balance("U1") == Balance("U1", 40_000, 60_000)

    loan = service.transfer(1, 2, 60_000, from_frozen=True, fees={"fee_income": 1_200, "risk_reserve": 600},
                            key="disburse-1")
    assert loan.state == "confirmed" and loan.kind == "batch_transfer"
    lines = sorted((line.account.code, line.amount) for line in loan.entry.lines)
    assert lines == [("platform:fee_income", -1_200), ("platform:risk_reserve", -600),
                     ("user:1:frozen", 60_000), ("user:2:available", -58_200)]
    assert flow.frozen(1) == 0 and flow.available(2) == 58_200
    assert flow.available("fee_income") == 1_200 and flow.available("risk_reserve") == 600
    assert bank().balance("U2").available == 58_200
    assert bank().balance("PLATFORM-FEE").available == 1_200
    assert bank().balance("PLATFORM-RESERVE").available == 600
    assert verify() == []
    assert reconcile(today()).status == "clean"


def test_withdraw_and_unfreeze(flow):
    flow.open_user(1)
    service.deposit(1, 5_000, key="d")
    service.freeze(1, 2_000, key="f")
    assert service.unfreeze(1, 500, key="u").state == "confirmed"
    assert service.withdraw(1, 3_000, key="w").state == "confirmed"
    assert (flow.available(1), flow.frozen(1)) == (500, 1_500)
    assert account("platform:bank_clearing").posted_balance == 2_000
    assert bank().balance("U1").total == 2_000
    assert reconcile(today()).status == "clean"


def test_a_bank_refusal_voids_the_pending_entry_and_releases_the_funds(flow):
    flow.open_user(1)
    service.deposit(1, 1_000, key="d")
    # the money leaves the bank behind the platform's back
    assert bank().submit(Instruction("OUTSIDE-1", "withdraw", "U1", 900, "CNY")).status == "confirmed"
    attempt = service.withdraw(1, 500, key="w")
    assert attempt.state == "refused" and attempt.reason == "insufficient_funds"
    assert attempt.entry.state == "voided"
    assert flow.spendable(1) == 1_000  # nothing stays reserved
    run = reconcile(today())
    assert run.status == "differences"
    kinds = {(d.kind, d.request_no, d.account) for d in run.differences}
    assert ("missing_in_ledger", "OUTSIDE-1", "U1") in kinds
    assert ("balance_differs", None, "U1") in kinds


def test_a_movement_on_an_account_the_bank_does_not_know_is_refused_and_voided(flow):
    open_user_accounts(9)  # in the books only
    done = service.deposit(9, 100, key="d9")
    assert done.state == "refused" and done.reason == "unknown_account" and done.entry.state == "voided"
    assert flow.available(9) == 0 and verify() == []


def test_the_same_key_gives_the_same_instruction_and_moves_money_once(flow):
    flow.open_user(1)
    first = service.deposit(1, 700, key="dep")
    again = service.deposit(1, 700, key="dep")
    assert again.id == first.id and again.request_no == first.request_no
    with pytest.raises(IdempotencyConflict):
        service.deposit(1, 701, key="dep")
    assert instruction_count() == 5  # three platform openings, the user opening and this deposit
    assert flow.available(1) == 700
    statement = bank().statement(today(), "CNY")
    assert [line.request_no for line in statement.lines] == [first.request_no]


def test_the_ledger_refuses_before_the_bank_is_asked(flow):
    flow.open_user(1)
    flow.open_user(2)
    service.deposit(1, 100, key="d")
    before = instruction_count()
    with pytest.raises(InsufficientFunds):
        service.withdraw(1, 101, key="w")
    with pytest.raises(InsufficientFunds):
        service.transfer(1, 2, 100, from_frozen=True, key="t")
    with pytest.raises(UnknownAccount):
        service.deposit(99, 1, key="x")
    with pytest.raises(TypeError):
        service.deposit(1, 1.5, key="f")
    with pytest.raises(ValueError):
        service.transfer(1, 2, 100, fees={"fee_income": 100}, key="all-fees")
    assert instruction_count() == before


def test_a_batch_disburses_fifty_investors_in_one_instruction_and_one_entry(flow):
    investors = list(range(100, 150))
    for user in investors + [900]:
        flow.open_user(user)
    for user in investors:
        service.deposit(user, 10_000, key=f"d{user}")
        service.freeze(user, 8_000, key=f"f{user}")
    legs = [Leg(user, 900, 8_000, from_frozen=True) for user in investors]
    legs.append(Leg(900, "fee_income", 4_000))
    done = service.batch_transfer(legs, key="disburse")
    assert done.state == "confirmed"
    assert len(done.entry.lines) == 52  # 50 investors, the borrower netted, the fee
    assert flow.available(900) == 396_000 and bank().balance("U900").available == 396_000
    assert all(flow.frozen(user) == 0 for user in investors)
    assert reconcile(today()).status == "clean"


def test_wrong_instruction_state_changes_are_refused(flow):
    flow.open_user(1)
    done = service.deposit(1, 100, key="d")
    instruction = db.session.get(CustodyInstruction, done.id)
    for wanted in ("created", "sent", "unknown", "refused"):
        with pytest.raises(InvalidTransition, match=f"cannot go from confirmed to {wanted}"):
            instructions.move(instruction, wanted)
    db.session.rollback()
    refused = service.deposit(1, 5, key="d-bad")  # fine at the bank; now pretend a refusal arrives late
    late = BankResult(refused.request_no, "refused", None, "insufficient_funds")
    after = instructions.apply_result(refused.id, late)
    assert after.state == "confirmed" and after.entry.state == "posted"  # the first outcome stands
    with pytest.raises(InvalidTransition):
        journal.void(after.entry_id)


def test_a_duplicate_confirmation_posts_nothing_twice(flow):
    flow.open_user(1)
    done = service.deposit(1, 100, key="d")
    result = bank().query(done.request_no)
    for _ in range(3):
        assert instructions.apply_result(done.id, result).state == "confirmed"
    assert flow.available(1) == 100
    assert db.session.scalar(select(func.count(JournalEntry.id)).where(JournalEntry.request_no == done.request_no)) == 1


def test_the_sandbox_bank_sends_no_callbacks_so_the_endpoint_refuses_them(flow, client_a):
    response = client_a.post("/api/v1/custody/callback", data=b"{}", content_type="application/json")
    assert response.status_code == 400 and response.json["code"] == 400


def test_an_instruction_is_handed_back_as_stored_without_reading_it_again(flow):
    """The instruction a deposit returns was created and settled by this request's transactions; the session
    keeps it across those commits (core.kept), so reading it runs no SELECT, and it holds what the row holds."""
    flow.open_user(8)
    done = service.deposit(8, 12_345, key="dep-kept")
    with statements() as seen:
        values = {column.key: getattr(done, column.key) for column in CustodyInstruction.__mapper__.column_attrs}
    assert seen == []
    assert values["state"] == "confirmed" and values["attempts"] == 1 and values["bank_ref"]
    stored = db.session.execute(
        select(CustodyInstruction.__table__).where(CustodyInstruction.__table__.c.id == done.id)
        .execution_options(all_tenants=True)
    ).one()._asdict()
    assert values == stored
