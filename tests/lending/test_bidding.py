"""Bidding: rules of the listing, trimming, freezing at the bank, failure at the deadline, auto-bids;
and under concurrency the sum of bids never passes the amount and no bid is frozen twice."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.custody.models import CustodyInstruction
from core.extensions import db
from core.ledger.chart import account
from core.lending.bidding import expire_listings, place_bid, set_auto_bid_rule
from core.lending.errors import LendingError
from core.lending.lifecycle import get_loan
from core.lending.models import Bid, Loan
from core.tenancy.models import utcnow
from lending_support import TX_PASSWORD, books_are_clean, texts_sent


def _frozen(user) -> int:
    return account(f"user:{user.id}:frozen").posted_balance


def test_a_bid_freezes_its_amount_and_the_last_bid_is_trimmed(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=500_000)
    first = place_bid(people.investors[0], loan.id, 400_000, transaction_password=TX_PASSWORD)
    assert first.state == "frozen" and _frozen(people.investors[0]) == 400_000
    last = place_bid(people.investors[1], loan.id, 300_000, transaction_password=TX_PASSWORD)
    assert (last.requested, last.amount) == (300_000, 100_000)
    assert get_loan(loan.id).status == "repaying"  # funded, then disbursed at once


@pytest.mark.parametrize("amount,code", [(5_000, "below_min_bid"), (10_050, "bid_step"), (0, "amount")])
def test_bids_follow_the_products_rules(world, people, amount, code):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk)
    with pytest.raises(LendingError) as refused:
        place_bid(people.investors[0], loan.id, amount, transaction_password=TX_PASSWORD)
    assert refused.value.code == code
    assert get_loan(loan.id).bid_total == 0


def test_refusals_reserve_nothing(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk)
    poor = world.user("investor", funds=50_000)
    with pytest.raises(LendingError) as wrong:
        place_bid(people.investors[0], loan.id, 100_000, transaction_password="nope")
    assert wrong.value.code == "wrong_transaction_password" and wrong.value.status == 403
    with pytest.raises(LendingError) as short:
        place_bid(poor, loan.id, 100_000, transaction_password=TX_PASSWORD)
    assert short.value.code == "insufficient_funds"
    with pytest.raises(LendingError) as own:
        place_bid(people.borrower, loan.id, 100_000, transaction_password=TX_PASSWORD)
    assert own.value.code == "own_loan"
    assert get_loan(loan.id).bid_total == 0 and _frozen(poor) == 0


def test_the_same_request_key_makes_one_bid(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk)
    one = place_bid(people.investors[0], loan.id, 100_000, request_key="k1", transaction_password=TX_PASSWORD)
    two = place_bid(people.investors[0], loan.id, 100_000, request_key="k1", transaction_password=TX_PASSWORD)
    assert one.id == two.id and _frozen(people.investors[0]) == 100_000


def test_a_listing_past_its_deadline_fails_and_every_bid_is_unfrozen(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk)
    for investor in people.investors[:3]:
        place_bid(investor, loan.id, 100_000, transaction_password=TX_PASSWORD)
    db.session.get(Loan, loan.id).deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    with pytest.raises(LendingError):
        place_bid(people.investors[3], loan.id, 100_000, transaction_password=TX_PASSWORD)
    counts = expire_listings()
    assert counts == {"failed": 1, "waiting": 0, "released": 3}
    assert get_loan(loan.id).status == "failed"
    assert [_frozen(i) for i in people.investors[:3]] == [0, 0, 0]
    assert expire_listings() == {"failed": 0, "waiting": 0, "released": 0}
    assert books_are_clean() == []


def test_a_bid_and_its_release_text_the_investor_once_each(world, people, monkeypatch):
    """The "bid placed" text says the amount is frozen and the "not funded" text that it is unfrozen: the
    custody movements behind them send no money_moved text of their own on top."""
    sent = texts_sent(monkeypatch)
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk)
    sent.clear()
    place_bid(people.investors[0], loan.id, 100_000, transaction_password=TX_PASSWORD)
    assert len(sent) == 1 and "You bid" in sent[0] and "is frozen" in sent[0]
    db.session.get(Loan, loan.id).deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    sent.clear()
    assert expire_listings()["released"] == 1
    assert sum("was not fully funded; your" in text for text in sent) == 1
    assert not any("on your account" in text for text in sent)  # no money_moved text
    sent.clear()  # a movement no lending notice reports is still texted
    world.deposit(people.investors[1], 5_000)
    assert any("Received" in text and "on your account" in text for text in sent)


def test_auto_bid_rules_invest_when_a_listing_opens(world, people):
    set_auto_bid_rule(people.investors[0].id, grades=["AAA", "AA"], terms=[6], max_per_loan=300_000, min_rate="0.05")
    set_auto_bid_rule(people.investors[1].id, grades=["B"], terms=[], max_per_loan=300_000, min_rate="0")
    set_auto_bid_rule(people.investors[2].id, grades=["AAA"], terms=[], max_per_loan=250_050, min_rate="0",
                      keep_available=0)
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=1_000_000, months=6)
    bids = db.session.scalars(select(Bid).where(Bid.loan_id == loan.id).order_by(Bid.id)).all()
    assert [(b.investor_id, b.amount, b.auto) for b in bids] == [
        (people.investors[0].id, 300_000, True), (people.investors[2].id, 250_000, True)]


@pytest.mark.slow
def test_concurrent_bids_never_oversubscribe_and_never_freeze_twice(world, app, tenant_a):
    """Many threads, one listing: Σ bids = amount exactly, each bid frozen by exactly one instruction."""
    from core.tenancy import tenant_context

    borrower = world.user("borrower")
    loan = world.listed_loan(borrower, world.staff("reviewer"), world.staff("risk_officer"), amount=2_000_000)
    investors = [world.user("investor", funds=300_000) for _ in range(24)]
    ids = [i.id for i in investors]
    errors = []

    def storm(user_id):
        from core.accounts.models import User

        with app.app_context(), tenant_context(tenant_a):
            user = db.session.get(User, user_id)
            for n in range(3):
                try:
                    place_bid(user, loan.id, 100_000, request_key=f"storm-{user_id}-{n}", transaction_password=TX_PASSWORD)
                except LendingError as exc:
                    if exc.code not in ("fully_subscribed", "invalid_transition", "insufficient_funds"):
                        errors.append(exc.code)
                except Exception as exc:  # noqa: BLE001
                    errors.append(repr(exc))
            db.session.remove()

    threads = [threading.Thread(target=storm, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    db.session.expire_all()
    loan = get_loan(loan.id)
    live = db.session.scalars(select(Bid).where(Bid.loan_id == loan.id, Bid.state.in_(("frozen", "settled")))).all()
    assert sum(b.amount for b in live) == loan.amount == loan.bid_total
    keys = [f"bid:{b.id}" for b in db.session.scalars(select(Bid).where(Bid.loan_id == loan.id))]
    per_key = dict(db.session.execute(select(CustodyInstruction.idempotency_key, func.count())
                                      .where(CustodyInstruction.idempotency_key.in_(keys))
                                      .group_by(CustodyInstruction.idempotency_key)).all())
    assert set(per_key.values()) == {1}
    confirmed = db.session.scalar(select(func.count()).select_from(CustodyInstruction).where(
        CustodyInstruction.idempotency_key.in_(keys), CustodyInstruction.state == "confirmed"))
    assert confirmed == len(live)
    assert loan.status == "repaying"
    assert books_are_clean() == []
