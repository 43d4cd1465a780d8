"""Listing, bidding, auto-bids and the end of a listing (funded or failed).

A bid happens in three short steps, so the custody bank is never called while
the loan's row is locked and the sum of bids can never pass the loan's amount:

1. **Reserve** — in one transaction holding the loan's row lock
   (``SELECT … FOR UPDATE``; serialised writers on SQLite) the listing and the
   bidding rules are checked, the amount is trimmed to what is left, a
   ``pending`` bid is stored and ``loan.bid_total`` grows by it.
2. **Freeze** — :func:`core.custody.service.freeze` with the key ``bid:<id>``:
   one instruction per bid, so an investor's money is frozen once per bid
   however often it is retried.
3. **Settle** — under the lock again: confirmed → ``frozen`` (and the loan is
   ``funded`` when frozen bids reach its amount); refused → ``void``, the
   amount goes back to the listing; no answer yet → stays ``pending`` until
   :func:`settle_pending` (the daily job) hears from the bank.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.ledger.chart import account
from core.ledger.errors import InsufficientFunds, LedgerError
from core.ledger.journal import writing
from core.ledger.models import user_account_code
from core.lending.errors import Conflict, Forbidden, LendingError, not_now
from core.lending.lifecycle import bound_tenant, get_loan, lock_loan, move
from core.lending.models import AutoBidRule, Bid, Loan
from core.lending.notices import notify
from core.tenancy.models import utcnow

log = logging.getLogger("lendkit.lending")

__all__ = ["list_loan", "place_bid", "settle_bid", "settle_pending", "expire_listings", "run_auto_bids",
           "spendable", "set_auto_bid_rule"]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def spendable(user_id: int) -> int | None:
    """What the user may still move out of their available custody funds; None without a custody account."""
    acct = account(user_account_code(user_id, "available"))
    return None if acct is None else acct.spendable


def list_loan(loan: Loan, *, now: datetime | None = None) -> None:
    """approved → listed: open for bids until ``funding_days`` from now. Caller holds the lock and commits."""
    now = now or utcnow()
    move(loan, "listed")
    loan.listed_at = now
    loan.deadline = now + timedelta(days=int(loan.terms.get("funding_days", 7)))
    notify(loan.borrower_id, "listed", f"listed:{loan.id}", loan=loan, deadline=loan.deadline.date())


# --------------------------------------------------------------------- bidding


def _check_amount(loan: Loan, investor_id: int, requested: int, already: int) -> int:
    terms = loan.terms
    if isinstance(requested, bool) or not isinstance(requested, int) or requested <= 0:
        raise LendingError(_l("Enter the amount to invest."), code="amount", field="amount")
    remaining = loan.amount - loan.bid_total
    if remaining <= 0:
        raise Conflict(_l("Loan %(number)s is already fully subscribed.", number=loan.number), code="fully_subscribed")
    amount = min(requested, remaining)
    is_rest = amount == remaining
    if amount < terms["min_bid"] and not is_rest:
        raise LendingError(_l("The smallest bid is %(amount)s.", amount=_money(terms["min_bid"], loan.currency)),
                           code="below_min_bid", field="amount")
    if amount % terms["bid_step"] and not is_rest:
        raise LendingError(_l("Bids go in steps of %(amount)s.", amount=_money(terms["bid_step"], loan.currency)),
                           code="bid_step", field="amount")
    cap = terms.get("max_bid_per_investor")
    if cap is not None and already + amount > cap:
        raise LendingError(_l("One investor may bid at most %(amount)s on this loan.", amount=_money(cap, loan.currency)),
                           code="above_max_bid", field="amount")
    return amount


def _money(amount: int, currency: str) -> str:
    from core.ledger.errors import major

    try:
        from core.i18n import money

        return money(amount, currency)
    except Exception:  # noqa: BLE001 - outside a request: plain figures
        return major(amount, currency)


def _reserve(loan_id: int, investor_id: int, requested: int, request_key: str, auto: bool,
             now: datetime) -> tuple[int, bool]:
    """Step 1: the bid row and the loan's reservation, under the loan's row lock. Returns (bid id, created)."""
    with writing():
        existing = db.session.scalars(select(Bid).where(Bid.request_key == request_key)).first()
        if existing is not None:
            if (existing.loan_id, existing.investor_id, existing.requested) != (loan_id, investor_id, requested):
                raise Conflict(_l("The key %(key)s was already used for a different request.", key=request_key),
                               code="idempotency_conflict")
            return existing.id, False
        loan = lock_loan(loan_id)
        if loan.status != "listed":
            raise not_now(loan, _l("bidding"))
        if _aware(loan.deadline) is not None and _aware(loan.deadline) <= now:
            raise Conflict(_l("Bidding on loan %(number)s has closed.", number=loan.number), code="listing_closed")
        if investor_id == loan.borrower_id:
            raise Forbidden(_l("You cannot invest in your own loan."), code="own_loan")
        already = db.session.scalar(
            select(func.coalesce(func.sum(Bid.amount), 0))
            .where(Bid.loan_id == loan.id, Bid.investor_id == investor_id, Bid.state.in_(("pending", "frozen")))
        ) or 0
        amount = _check_amount(loan, investor_id, requested, int(already))
        available = spendable(investor_id)
        if available is None:
            raise Conflict(_l("Open your custody account first: bind a bank card."), code="no_custody_account")
        if available < amount:
            raise LendingError(_l("Your available funds (%(available)s) do not cover this bid.",
                                  available=_money(available, loan.currency)), code="insufficient_funds",
                               field="amount")
        bid = Bid(loan_id=loan.id, investor_id=investor_id, amount=amount, requested=requested, state="pending",
                  request_key=request_key, auto=auto, created_at=now, updated_at=now)
        db.session.add(bid)
        loan.bid_total += amount
        db.session.flush()
        return bid.id, True


def place_bid(investor, loan_id: int, requested: int, *, request_key: str | None = None,
              transaction_password: str | None = None, auto: bool = False, now: datetime | None = None) -> Bid:
    """An investor bids ``requested`` (minor units) on a listed loan; returns the bid.

    The transaction password is checked unless an auto-bid rule bids. The last
    bid is trimmed to what is left. The same ``request_key`` twice gives the
    same bid. Refusals raise :class:`LendingError` (nothing is reserved then).
    """
    now = now or utcnow()
    if not auto:
        _check_transaction_password(investor, transaction_password)
    request_key = request_key or f"bid:{investor.id}:{loan_id}:{now.timestamp()}"
    try:
        bid_id, created = _reserve(loan_id, investor.id, requested, request_key, auto, now)
    except IntegrityError:  # the same request key raced in from another request
        db.session.rollback()
        bid_id, created = _reserve(loan_id, investor.id, requested, request_key, auto, now)
    bid = db.session.get(Bid, bid_id)
    if bid.state == "pending":
        bid = _freeze(bid)
    if created and bid.state in ("frozen", "pending"):
        loan = db.session.get(Loan, bid.loan_id)
        notify(investor.id, "bid_placed", f"bid:{bid.id}", loan=loan, amount=bid.amount)
        db.session.commit()
    return bid


def _check_transaction_password(user, password) -> None:
    from core.accounts.policy import AccountRefused
    from core.accounts.profile import verify_transaction_password

    try:
        ok = verify_transaction_password(user, password or "")
    except AccountRefused as refusal:
        raise LendingError(refusal.message, code=refusal.code, status=refusal.status,
                           field="transaction_password") from None
    if not ok:
        raise Forbidden(_l("The transaction password is wrong."), code="wrong_transaction_password",
                        field="transaction_password")


def _freeze(bid: Bid) -> Bid:
    """Step 2 and 3: freeze at the bank under the bid's key, then settle what the bank said."""
    from core.custody import service as custody

    loan_number = db.session.scalar(select(Loan.number).where(Loan.id == bid.loan_id))
    try:
        instruction = custody.freeze(bid.investor_id, bid.amount, key=f"bid:{bid.id}", memo=f"bid on {loan_number}")
    except InsufficientFunds:
        return settle_bid(bid.id, "refused", reason="insufficient_funds")
    except LedgerError as exc:
        return settle_bid(bid.id, "refused", reason=exc.reason)
    return settle_bid(bid.id, instruction.state, reason=instruction.reason)


def settle_bid(bid_id: int, outcome: str, *, reason: str | None = None) -> Bid:
    """Apply the bank's answer about a pending bid (``confirmed``, ``refused``; anything else waits)."""
    disburse = False
    with writing():
        bid = db.session.get(Bid, bid_id)
        loan = lock_loan(bid.loan_id)
        bid = db.session.scalars(select(Bid).where(Bid.id == bid_id).execution_options(populate_existing=True)).one()
        if bid.state != "pending" or outcome not in ("confirmed", "refused"):
            return bid
        if outcome == "confirmed":
            bid.state = "frozen"
            loan.frozen_total += bid.amount
        else:
            bid.state = "void"
            bid.reason = (reason or "refused")[:200]
            loan.bid_total -= bid.amount
            notify(bid.investor_id, "bid_void", f"bid_void:{bid.id}", loan=loan, reason=bid.reason)
        bid.updated_at = utcnow()
        if loan.status == "listed" and loan.frozen_total == loan.amount:
            _funded(loan)
            disburse = True
        db.session.flush()
    if disburse:
        from core.jobs import dispatch

        dispatch("lending.disburse", loan.id)
    return db.session.get(Bid, bid_id)


def _funded(loan: Loan) -> None:
    move(loan, "funded")
    notify(loan.borrower_id, "funded", f"funded:{loan.id}:borrower", loan=loan)


def settle_pending(loan_id: int | None = None, *, older_than: timedelta = timedelta(seconds=30)) -> dict:
    """Finish bids left ``pending`` (no answer from the bank yet, or a crash between the steps).

    Each is frozen again under its own key — the custody service returns the
    instruction already made, or makes the missing one — and settled.
    """
    cutoff = utcnow() - older_than
    query = select(Bid.id, Bid.created_at).where(Bid.state == "pending").order_by(Bid.id)
    if loan_id is not None:
        query = query.where(Bid.loan_id == loan_id)
    counts = {"checked": 0, "frozen": 0, "void": 0, "pending": 0}
    for bid_id, created_at in db.session.execute(query).all():
        if _aware(created_at) > cutoff:
            continue
        counts["checked"] += 1
        bid = _freeze(db.session.get(Bid, bid_id))
        counts[bid.state if bid.state in counts else "pending"] += 1
    db.session.commit()
    return counts


# --------------------------------------------------------------------- end of a listing


def expire_listings(now: datetime | None = None) -> dict:
    """Listings past their deadline and not funded fail; every frozen bid is unfrozen.

    A listing with a bid still waiting for the bank is left for the next run.
    Idempotent: a failed loan whose bids are not all released yet is picked up again.
    """
    from core.custody import service as custody

    now = now or utcnow()
    counts = {"failed": 0, "waiting": 0, "released": 0}
    due = db.session.scalars(
        select(Loan.id).where(Loan.status == "listed", Loan.deadline <= now).order_by(Loan.id)
    ).all()
    for loan_id in due:
        settle_pending(loan_id, older_than=timedelta(0))
        with writing():
            loan = lock_loan(loan_id)
            if loan.status != "listed":
                continue
            if db.session.scalar(select(func.count(Bid.id)).where(Bid.loan_id == loan_id, Bid.state == "pending")):
                counts["waiting"] += 1
                continue
            move(loan, "failed", actor="daily", reason="deadline passed")
            notify(loan.borrower_id, "failed_borrower", f"failed:{loan.id}:borrower", loan=loan)
            counts["failed"] += 1
    failed = db.session.scalars(
        select(Bid).join(Loan, Loan.id == Bid.loan_id).where(Loan.status == "failed", Bid.state == "frozen")
        .order_by(Bid.id)
    ).all()
    for bid_id, investor_id, amount, loan_id in [(b.id, b.investor_id, b.amount, b.loan_id) for b in failed]:
        instruction = custody.unfreeze(investor_id, amount, key=f"unfreeze:bid:{bid_id}", memo="listing failed")
        if instruction.state != "confirmed":
            continue
        with writing():
            loan = lock_loan(loan_id)
            bid = db.session.scalars(select(Bid).where(Bid.id == bid_id).execution_options(populate_existing=True)).one()
            if bid.state == "frozen":
                bid.state = "released"
                loan.frozen_total -= amount
                loan.bid_total -= amount
                notify(investor_id, "failed_investor", f"failed:{loan_id}:bid:{bid_id}", loan=loan, amount=amount)
                counts["released"] += 1
    return counts


# --------------------------------------------------------------------- auto-bids


def set_auto_bid_rule(investor_id: int, *, grades, terms, max_per_loan: int, min_rate, keep_available: int = 0,
                      active: bool = True) -> AutoBidRule:
    """Create or replace the investor's standing instruction. Commits."""
    from decimal import Decimal

    from core.lending.products import GRADES

    grades = [g for g in GRADES if g in set(grades or ())]
    if not grades:
        raise LendingError(_l("Choose at least one grade."), code="grades", field="grades")
    if isinstance(max_per_loan, bool) or not isinstance(max_per_loan, int) or max_per_loan <= 0:
        raise LendingError(_l("Enter the most to invest in one loan."), code="max_per_loan", field="max_per_loan")
    rule = db.session.scalars(select(AutoBidRule).where(AutoBidRule.investor_id == investor_id)).first()
    if rule is None:
        rule = AutoBidRule(investor_id=investor_id)
        db.session.add(rule)
    rule.grades = grades
    rule.terms = sorted({int(t) for t in terms or ()})
    rule.max_per_loan = max_per_loan
    rule.min_rate = Decimal(str(min_rate or 0))
    rule.keep_available = max(int(keep_available or 0), 0)
    rule.active = bool(active)
    db.session.commit()
    return rule


def run_auto_bids(loan_id: int) -> int:
    """Bid for every active rule matching a newly listed loan, oldest rule first; returns the bids placed."""
    from core.accounts.models import User

    loan = get_loan(loan_id)
    if loan.status != "listed":
        return 0
    rules = db.session.scalars(
        select(AutoBidRule).where(AutoBidRule.active.is_(True)).order_by(AutoBidRule.created_at, AutoBidRule.id)
    ).all()
    placed = 0
    terms = loan.terms
    for rule in rules:
        loan = get_loan(loan_id)
        if loan.status != "listed" or loan.remaining <= 0:
            break
        if rule.investor_id == loan.borrower_id or loan.grade not in (rule.grades or []):
            continue
        if rule.terms and loan.months not in rule.terms:
            continue
        if loan.annual_rate < rule.min_rate:
            continue
        room = (spendable(rule.investor_id) or 0) - rule.keep_available
        amount = min(rule.max_per_loan, room, loan.remaining)
        if terms.get("max_bid_per_investor") is not None:
            amount = min(amount, terms["max_bid_per_investor"])
        if amount != loan.remaining:
            amount -= amount % terms["bid_step"]
            if amount < terms["min_bid"]:
                continue
        if amount <= 0:
            continue
        investor = db.session.get(User, rule.investor_id)
        try:
            bid = place_bid(investor, loan_id, amount, request_key=f"auto:{loan_id}:{rule.investor_id}", auto=True)
        except LendingError as exc:
            log.info("auto-bid of investor %s on loan %s refused: %s", rule.investor_id, loan.number, exc)
            db.session.rollback()
            continue
        placed += bid.state in ("pending", "frozen")
    return placed
