"""Listing, bidding, auto-bids and the end of a listing (funded or failed).

A bid happens in three short steps, so the custody bank is never called while
the loan's row is locked and the sum of bids can never pass the loan's amount:

1. **Reserve** — the listing and the bidding rules are checked on the loan as
   read, the amount is trimmed to what is left, and ONE conditional UPDATE adds
   it to ``loan.bid_total`` only if it still fits (a trimmed last bid: only if
   exactly that rest is left); then the ``pending`` bid is inserted and the
   transaction commits. The loan's row is locked from that UPDATE to the
   COMMIT. When the amount no longer fits, the row is locked
   (``SELECT … FOR UPDATE``; serialised writers on SQLite), read again and the
   rules applied to it.
2. **Freeze** — :func:`core.custody.service.freeze` with the key ``bid:<id>``:
   one instruction per bid, so an investor's money is frozen once per bid
   however often it is retried.
3. **Settle** — the bid goes ``pending`` → ``frozen`` in a conditional UPDATE
   and the loan's ``frozen_total`` grows in one UPDATE … RETURNING (the loan is
   ``funded`` when it reaches the amount); refused → ``void``, the amount goes
   back to the listing; no answer yet → stays ``pending`` until
   :func:`settle_pending` (the daily job) hears from the bank.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.kept import set_as_read
from core.ledger.chart import account
from core.ledger.errors import InsufficientFunds, LedgerError
from core.ledger.journal import writing
from core.ledger.models import user_account_code
from core.lending.errors import Conflict, Forbidden, LendingError, not_now
from core.lending.lifecycle import bound_tenant, get_loan, lock_loan, move
from core.lending.models import AutoBidRule, Bid, Loan
from core.lending.notices import notify
from core.tenancy.models import aware, utcnow

log = logging.getLogger("lendkit.lending")

#: The custody key of a bid's freeze (``bid:<bid id>``) and of its release when the listing fails
#: (``unfreeze:bid:<bid id>``); the lending notices report both (:func:`core.lending.notices.told_by_lending`).
FREEZE_KEY_PREFIX = "bid:"
RELEASE_KEY_PREFIX = "unfreeze:bid:"

__all__ = ["list_loan", "place_bid", "settle_bid", "settle_pending", "expire_listings", "run_auto_bids",
           "spendable", "set_auto_bid_rule"]


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


def _check_listing(loan: Loan, investor_id: int, now: datetime) -> None:
    """The listing takes bids now, and not from its own borrower."""
    if loan.status != "listed":
        raise not_now(loan, _l("bidding"))
    if aware(loan.deadline) is not None and aware(loan.deadline) <= now:
        raise Conflict(_l("Bidding on loan %(number)s has closed.", number=loan.number), code="listing_closed")
    if investor_id == loan.borrower_id:
        raise Forbidden(_l("You cannot invest in your own loan."), code="own_loan")


def _trim(loan: Loan, requested: int) -> tuple[int, bool]:
    """The amount to reserve out of what ``loan`` has left, and whether it is all that is left.

    The last bid is trimmed to the rest, which may be below ``min_bid`` or off ``bid_step``.
    """
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
    return amount, is_rest


def _check_cap(loan: Loan, investor_id: int, amount: int) -> None:
    """``max_bid_per_investor``: the investor's live bids on the loan and this one stay within it.

    Called while the loan's row is locked (after :func:`_take`), so two bids of one
    investor racing each other are counted one after the other.
    """
    cap = loan.terms.get("max_bid_per_investor")
    if cap is None:
        return
    already = db.session.scalar(
        select(func.coalesce(func.sum(Bid.amount), 0))
        .where(Bid.loan_id == loan.id, Bid.investor_id == investor_id, Bid.state.in_(("pending", "frozen")))
    ) or 0
    if int(already) + amount > cap:
        raise LendingError(_l("One investor may bid at most %(amount)s on this loan.", amount=_money(cap, loan.currency)),
                           code="above_max_bid", field="amount")


def _money(amount: int, currency: str) -> str:
    from core.ledger.errors import major

    try:
        from core.i18n import money

        return money(amount, currency)
    except Exception:  # noqa: BLE001 - outside a request: plain figures
        return major(amount, currency)


def _take(loan: Loan, amount: int, is_rest: bool) -> bool:
    """Add ``amount`` to the listing's ``bid_total`` in ONE conditional UPDATE; False when it no longer fits.

    The condition is evaluated on the row as it is when the UPDATE gets it (PostgreSQL
    re-checks it after waiting for a concurrent writer; SQLite writers are serialised),
    so the sum of bids can never pass the amount: a bid that fits what is left is
    added, a trimmed last bid is added only if exactly that rest is still left.
    The row stays locked from here to the commit — one UPDATE and the COMMIT.
    """
    fits = Loan.bid_total == loan.amount - amount if is_rest else Loan.bid_total + amount <= Loan.amount
    taken = db.session.execute(
        update(Loan).where(Loan.id == loan.id, Loan.status == "listed", fits)
        .values(bid_total=Loan.bid_total + amount).execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(loan, ["bid_total"])
    return taken == 1


@dataclass
class _Reserved:
    """What step 1 leaves for steps 2 and 3 (plain values: they outlive the commit)."""

    bid_id: int
    created: bool
    state: str
    investor_id: int
    amount: int
    loan_number: str
    #: The bid itself (expired by the commit) and every column of it, to hand the caller its bid after
    #: the last commit without reading it back.
    bid: Bid
    values: dict


def _reserved(bid: Bid, created: bool, loan_number: str) -> _Reserved:
    values = {column.key: getattr(bid, column.key) for column in Bid.__mapper__.column_attrs}
    return _Reserved(bid.id, created, bid.state, bid.investor_id, bid.amount, loan_number, bid, values)


def _reserve(loan_id: int, investor_id: int, requested: int, request_key: str, auto: bool,
             now: datetime) -> _Reserved:
    """Step 1: the pending bid and the listing's reservation, in one short transaction.

    The rules are checked on the listing as last read (no lock yet), then
    :func:`_take` adds the amount to ``bid_total`` only if it still fits, and the
    bid row is inserted: the loan's row is locked from that UPDATE to the COMMIT,
    and it is the first row this transaction locks (the same order as every
    other writer of a loan, so no deadlock). When the amount no longer fits
    (another bid got in between, the listing closed) the loan's row is locked
    (``SELECT … FOR UPDATE``), read again and the rules applied to it.
    """
    with writing():
        existing = db.session.scalars(select(Bid).where(Bid.request_key == request_key)).first()
        if existing is not None:
            if (existing.loan_id, existing.investor_id, existing.requested) != (loan_id, investor_id, requested):
                raise Conflict(_l("The key %(key)s was already used for a different request.", key=request_key),
                               code="idempotency_conflict")
            number = db.session.scalar(select(Loan.number).where(Loan.id == existing.loan_id))
            return _reserved(existing, False, number)
        loan = db.session.get(Loan, loan_id)  # the caller's copy when it has one; _take checks what matters
        if loan is None:
            loan = lock_loan(loan_id)  # NotFound
        _check_listing(loan, investor_id, now)
        amount, is_rest = _trim(loan, requested)
        _check_funds(loan, investor_id, amount)
        if not _take(loan, amount, is_rest):
            loan = lock_loan(loan_id)  # the listing moved on since it was read: decide on the locked row
            _check_listing(loan, investor_id, now)
            amount, _is_rest = _trim(loan, requested)
            _check_funds(loan, investor_id, amount)
            loan.bid_total += amount
        _check_cap(loan, investor_id, amount)
        bid = Bid(loan_id=loan.id, investor_id=investor_id, amount=amount, requested=requested, state="pending",
                  request_key=request_key, auto=auto, created_at=now, updated_at=now)
        db.session.add(bid)
        db.session.flush()
        return _reserved(bid, True, loan.number)


def _check_funds(loan: Loan, investor_id: int, amount: int) -> None:
    available = spendable(investor_id)
    if available is None:
        raise Conflict(_l("Open your custody account first: bind a bank card."), code="no_custody_account")
    if available < amount:
        raise LendingError(_l("Your available funds (%(available)s) do not cover this bid.",
                              available=_money(available, loan.currency)), code="insufficient_funds",
                           field="amount")


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
        reserved = _reserve(loan_id, investor.id, requested, request_key, auto, now)
    except IntegrityError:  # the same request key raced in from another request
        db.session.rollback()
        reserved = _reserve(loan_id, investor.id, requested, request_key, auto, now)
    if reserved.state != "pending":
        return db.session.get(Bid, reserved.bid_id)
    return _freeze(reserved, notice=reserved.created)


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


def _freeze(reserved: _Reserved, *, notice: bool = False) -> Bid:
    """Step 2 and 3: freeze at the bank under the bid's key, then settle what the bank said.

    With ``notice`` the investor's "bid placed" text is recorded in the settling transaction.
    """
    from core.custody import service as custody

    try:
        instruction = custody.freeze(reserved.investor_id, reserved.amount, key=f"{FREEZE_KEY_PREFIX}{reserved.bid_id}",
                                     memo=f"bid on {reserved.loan_number}")
        outcome, reason = instruction.state, instruction.reason
    except InsufficientFunds:
        outcome, reason = "refused", "insufficient_funds"
    except LedgerError as exc:
        outcome, reason = "refused", exc.reason
    return settle_bid(reserved.bid_id, outcome, reason=reason, notice=notice, known=(reserved.bid, reserved.values))


def settle_bid(bid_id: int, outcome: str, *, reason: str | None = None, notice: bool = False,
               known: tuple[Bid, dict] | None = None) -> Bid:
    """Apply the bank's answer about a pending bid (``confirmed``, ``refused``; anything else waits).

    One short transaction: the bid goes ``pending`` → ``frozen`` (or ``void``) in
    a conditional UPDATE — a bid settled already is left as it is — then the
    loan's totals change in one UPDATE … RETURNING, which with the COMMIT is all
    the time the loan's row is locked. The UPDATE that makes ``frozen_total``
    reach the amount funds the loan. With ``notice`` (a new bid) the investor's
    "bid placed" text follows in its own short transaction, after the commit.
    ``known`` is the bid as reserved and its columns: the bid returned is filled
    from them, not read back.
    """
    if outcome in ("confirmed", "refused"):
        bid, values = known if known is not None else (None, None)
        if values is None:
            bid = db.session.get(Bid, bid_id)
            values = {column.key: getattr(bid, column.key) for column in Bid.__mapper__.column_attrs}
        settled = _settle(bid_id, values["loan_id"], values["investor_id"], values["amount"], outcome, reason)
        if settled is None:  # settled already (a retry, the daily job): nothing changed
            return db.session.get(Bid, bid_id)
        if settled["state"] == "frozen" and notice:
            _notify_placed(values)
        set_as_read(bid, dict(values, **settled))  # no SELECT to read the bid back
        return bid
    if notice:
        bid = db.session.get(Bid, bid_id)
        _notify_placed({column.key: getattr(bid, column.key) for column in Bid.__mapper__.column_attrs})
    return db.session.get(Bid, bid_id)


def _settle(bid_id: int, loan_id: int, investor_id: int, amount: int, outcome: str, reason: str | None) -> dict | None:
    """The settling transaction of :func:`settle_bid`; the bid's new columns, or None when it was not pending.

    Rows are locked in this order: the bid's (only this transaction ever writes a
    pending bid, so no writer of the loan waits for it), then the loan's, last.
    Nothing that references the loan is inserted before its row is locked: the
    key-share lock of a foreign key, taken first, deadlocks with a concurrent
    ``SELECT … FOR UPDATE`` of the loan.
    """
    settled_at = utcnow()
    state = "frozen" if outcome == "confirmed" else "void"
    why = None if outcome == "confirmed" else (reason or "refused")[:200]
    if state == "frozen":
        change = {"frozen_total": Loan.frozen_total + amount}
    else:
        change = {"bid_total": Loan.bid_total - amount}
    funded = False
    with writing():
        pending = db.session.execute(
            update(Bid).where(Bid.id == bid_id, Bid.state == "pending")
            .values(state=state, reason=why, updated_at=settled_at)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not pending:  # settled already (a retry, the daily job): nothing to do
            return None
        status, frozen_total, total = db.session.execute(
            update(Loan).where(Loan.id == loan_id).values(**change)
            .returning(Loan.status, Loan.frozen_total, Loan.amount)
            .execution_options(synchronize_session=False)
        ).one()
        if state == "void":
            notify(investor_id, "bid_void", f"bid_void:{bid_id}", loan=db.session.get(Loan, loan_id), reason=why)
        elif status == "listed" and frozen_total == total:
            _funded(get_loan(loan_id))  # the row is ours until the commit: a plain read sees it as it is
            funded = True
    if funded:
        from core.jobs import dispatch

        dispatch("lending.disburse", loan_id)
    return {"state": state, "reason": why, "updated_at": settled_at}


def _notify_placed(values: dict) -> None:
    """The investor's "bid placed" text, in its own short transaction after the bid is settled.

    Not in the settling transaction: its row references the loan, and taking that
    foreign key's lock before the loan's row lock can deadlock (see :func:`_settle`);
    after the loan's lock it would hold the loan while the SMS gateway answers.
    """
    with writing():
        notify(values["investor_id"], "bid_placed", f"bid:{values['id']}", loan=db.session.get(Loan, values["loan_id"]),
               amount=values["amount"])


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
        if aware(created_at) > cutoff:
            continue
        counts["checked"] += 1
        bid = db.session.get(Bid, bid_id)
        bid = _freeze(_reserved(bid, False, db.session.scalar(select(Loan.number).where(Loan.id == bid.loan_id))))
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
        instruction = custody.unfreeze(investor_id, amount, key=f"{RELEASE_KEY_PREFIX}{bid_id}", memo="listing failed")
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
