"""The reservation of a bid (one conditional UPDATE of the listing, the locked row when it no longer fits)
and its settlement (frozen or void exactly once), at the boundary and under concurrency."""
import threading
from datetime import timedelta

from sqlalchemy import func, select

from core.custody.models import CustodyInstruction
from core.extensions import db
from core.ledger.chart import account
from core.lending import bidding
from core.lending.bidding import place_bid, settle_bid, settle_pending
from core.lending.errors import LendingError
from core.lending.lifecycle import get_loan
from core.lending.models import Bid, Loan, LoanNotice
from core.tenancy.models import utcnow
from lending_support import TX_PASSWORD, books_are_clean


def _in_another_request(app, tenant, work):
    """Run ``work()`` in its own thread, app context and database session (another request), and wait."""
    from core.tenancy import tenant_context

    failures = []

    def run():
        with app.app_context(), tenant_context(tenant):
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - reported to the test below
                failures.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert failures == []


def test_a_bid_decided_on_an_old_read_of_the_listing_is_trimmed_to_what_is_really_left(world, people, app, tenant_a):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=500_000)
    seen = db.session.get(Loan, loan.id)  # this request read the listing: nothing bid yet
    assert seen.bid_total == 0
    other = people.investors[1].id

    def bid_400_000():
        from core.accounts.models import User

        place_bid(db.session.get(User, other), loan.id, 400_000, transaction_password=TX_PASSWORD)

    _in_another_request(app, tenant_a, bid_400_000)
    assert seen.bid_total == 0  # still the old read: the conditional UPDATE finds 300,000 no longer fits
    last = place_bid(people.investors[0], loan.id, 300_000, transaction_password=TX_PASSWORD)
    assert (last.requested, last.amount, last.state) == (300_000, 100_000, "frozen")
    db.session.expire_all()
    loan = get_loan(loan.id)
    assert loan.bid_total == loan.frozen_total == loan.amount and loan.status == "repaying"
    assert account(f"user:{people.investors[0].id}:frozen").posted_balance == 0  # disbursed: moved to the borrower
    assert books_are_clean() == []


def test_a_bid_on_a_listing_filled_since_it_was_read_is_refused_and_reserves_nothing(world, people, app, tenant_a):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=500_000)
    seen = db.session.get(Loan, loan.id)
    assert seen.status == "listed"
    other = people.investors[1].id

    def fill_it():
        from core.accounts.models import User

        place_bid(db.session.get(User, other), loan.id, 500_000, transaction_password=TX_PASSWORD)

    _in_another_request(app, tenant_a, fill_it)
    try:
        place_bid(people.investors[0], loan.id, 100_000, transaction_password=TX_PASSWORD)
    except LendingError as refused:
        assert refused.status == 409
    else:
        raise AssertionError("a bid on a filled listing was accepted")
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Bid.id)).where(Bid.investor_id == people.investors[0].id)) == 0
    assert get_loan(loan.id).bid_total == 500_000


def test_the_bid_returned_is_the_bid_stored(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=500_000)
    placed = place_bid(people.investors[0], loan.id, 200_000, request_key="same-as-stored",
                       transaction_password=TX_PASSWORD)
    mine = {c.key: getattr(placed, c.key) for c in Bid.__mapper__.column_attrs}
    db.session.expire_all()
    stored = db.session.get(Bid, placed.id)
    assert mine == {c.key: getattr(stored, c.key) for c in Bid.__mapper__.column_attrs}
    assert stored.state == "frozen" and stored.amount == 200_000
    notices = db.session.scalars(select(LoanNotice.key).where(LoanNotice.user_id == people.investors[0].id,
                                                              LoanNotice.event == "bid_placed")).all()
    assert notices == [f"bid:{placed.id}"]


def _pending_bid(loan_id, investor, amount, key):
    """A bid reserved but not yet sent to the bank (a crash between the steps)."""
    reserved = bidding._reserve(loan_id, investor.id, amount, key, False, utcnow())
    assert reserved.created and reserved.state == "pending"
    return reserved.bid_id


def test_a_bid_left_pending_is_frozen_once_by_the_daily_job(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=500_000)
    bid_id = _pending_bid(loan.id, people.investors[0], 100_000, "crashed-1")
    assert get_loan(loan.id).bid_total == 100_000 and get_loan(loan.id).frozen_total == 0
    assert settle_pending(loan.id, older_than=timedelta(0)) == {"checked": 1, "frozen": 1, "void": 0, "pending": 0}
    assert settle_pending(loan.id, older_than=timedelta(0))["checked"] == 0
    db.session.expire_all()
    assert db.session.get(Bid, bid_id).state == "frozen"
    assert get_loan(loan.id).frozen_total == 100_000
    assert db.session.scalar(select(func.count()).select_from(CustodyInstruction)
                             .where(CustodyInstruction.idempotency_key == f"bid:{bid_id}")) == 1
    assert account(f"user:{people.investors[0].id}:frozen").posted_balance == 100_000


def test_a_refused_bid_goes_void_once_and_its_amount_returns_to_the_listing(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=500_000)
    bid_id = _pending_bid(loan.id, people.investors[0], 100_000, "refused-1")
    void = settle_bid(bid_id, "refused", reason="account_frozen_by_bank")
    assert (void.state, void.reason) == ("void", "account_frozen_by_bank")
    assert get_loan(loan.id).bid_total == 0
    again = settle_bid(bid_id, "confirmed")  # a late answer changes nothing, and the totals stay right
    assert again.state == "void"
    loan = get_loan(loan.id)
    assert (loan.bid_total, loan.frozen_total) == (0, 0)
    voids = db.session.scalars(select(LoanNotice.event).where(LoanNotice.key == f"bid_void:{bid_id}")).all()
    assert voids == ["bid_void"]


def test_a_refused_bid_is_texted_in_words_not_as_the_banks_code(world, people):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=500_000)
    bid_id = _pending_bid(loan.id, people.investors[0], 100_000, "refused-2")
    settle_bid(bid_id, "refused", reason="insufficient_funds")
    text = db.session.scalar(select(LoanNotice.text).where(LoanNotice.key == f"bid_void:{bid_id}"))
    assert text.endswith("could not be placed: there is not enough money for it at the bank"), text
    assert "insufficient_funds" not in text


def test_one_investor_racing_past_the_cap_gets_no_more_than_the_cap(world, app, tenant_a):
    """max_bid_per_investor holds when one investor's bids arrive at once (checked on the locked listing)."""
    borrower = world.user("borrower")
    loan = world.listed_loan(borrower, world.staff("reviewer"), world.staff("risk_officer"), amount=2_000_000)
    stored = db.session.get(Loan, loan.id)
    stored.terms = dict(stored.terms, max_bid_per_investor=200_000)
    db.session.commit()
    investor_id = world.user("investor", funds=1_000_000).id
    codes = []

    def bid(n):
        from core.accounts.models import User
        from core.tenancy import tenant_context

        with app.app_context(), tenant_context(tenant_a):
            try:
                place_bid(db.session.get(User, investor_id), loan.id, 100_000, request_key=f"cap-{n}",
                          transaction_password=TX_PASSWORD)
                codes.append("ok")
            except LendingError as exc:
                codes.append(exc.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=bid, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(codes) == ["above_max_bid"] * 4 + ["ok"] * 2
    db.session.expire_all()
    live = db.session.scalar(select(func.sum(Bid.amount)).where(Bid.investor_id == investor_id,
                                                                Bid.state.in_(("pending", "frozen"))))
    assert live == 200_000 == get_loan(loan.id).bid_total
