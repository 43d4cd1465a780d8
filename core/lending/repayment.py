"""Repayments: an installment paid, a prepayment, a risk-reserve advance (垫付) — split among claim holders.

The split (:func:`split`) is pure: principal, interest and penalty are each
divided among the loan's active claims in proportion to their shares by
largest remainder (:func:`core.money.split_pro_rata`), so every part is
cent-exact and the parts sum to the whole, the same way every time; the
platform's fee on interest (``investor_fee_rate``) is one rounded amount,
allocated over the holders' interest parts the same way.

Every movement is a :class:`Repayment` row made in three steps, so a crash
anywhere can be resumed and nothing moves twice:

1. **Prepare** (under the loan's row lock): the parts are computed and stored
   on a ``pending`` repayment whose ``key`` (``repay:<installment>:<attempt>``)
   is also the custody instruction's key.
2. **Move**: one :func:`core.custody.service.batch_transfer` of the stored
   legs — every holder's net part, the platform's income (management fee,
   late fee, prepayment fee and the fee on interest) and the reserve's part —
   so fees and income are posted in the same ledger entry as the investors' money.
3. **Settle** (under the lock): confirmed → the installment is paid, the
   distributions are stored, the loan moves on (``overdue → repaying``,
   ``→ paid_off``); refused → the repayment ``failed`` and a later attempt
   gets a new key.

Calling again resumes a ``pending`` repayment with its stored key and legs.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import date
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Integer, String, bindparam, cast, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from core.extensions import db
from core.ledger.errors import InsufficientFunds, LedgerError
from core.ledger.journal import writing
from core.lending.errors import Conflict, LendingError, not_now
from core.lending.lifecycle import bound_tenant, get_loan, lock_loan, move, tenant_today
from core.lending.models import Claim, Distribution, Installment, Loan, Repayment
from core.lending.notices import notify
from core.money import allocate, apply_rate, split_pro_rata
from core.tenancy.scoping import current_tenant_id

log = logging.getLogger("lendkit.lending")

__all__ = ["Part", "split", "repay_installment", "prepay", "advance_from_reserve", "resume", "settle_pending",
           "next_installment", "amount_to_repay", "prepayment_quote"]


class Part(NamedTuple):
    """One claim's part of a repayment (a named tuple: a day's run makes hundreds of thousands)."""

    claim_id: int
    holder_id: int
    principal: int
    interest: int
    penalty: int
    #: The platform's fee on this part's interest.
    fee: int

    @property
    def net(self) -> int:
        """What the holder receives."""
        return self.principal + self.interest + self.penalty - self.fee


def split(principal: int, interest: int, penalty: int, fee_rate, claims) -> list[Part]:
    """Divide a repayment among ``claims`` (``[(claim id, holder id, weight)]``), cent-exact and deterministic.

    The weight is each claim's principal still outstanding, so the installment
    that repays the last principal repays every claim exactly what is left of it.

    The platform's fee is ``apply_rate(interest, fee_rate)``, allocated over the
    holders' interest parts; nobody's fee exceeds their interest.
    """
    claims = sorted(claims)
    shares = OrderedDict((claim_id, share) for claim_id, _holder, share in claims)
    p = split_pro_rata(principal, shares)
    i = split_pro_rata(interest, shares)
    pen = split_pro_rata(penalty, shares) if penalty else dict.fromkeys(shares, 0)
    total_fee = apply_rate(interest, fee_rate) if interest else 0
    fees = dict(zip(shares, allocate(total_fee, [i[c] for c in shares]))) if total_fee else dict.fromkeys(shares, 0)
    return [Part(claim_id, holder, p[claim_id], i[claim_id], pen[claim_id], fees[claim_id])
            for claim_id, holder, _share in claims]


# --------------------------------------------------------------------- reading


def active_claims(loan_id: int) -> list[tuple[int, int, int]]:
    """``(claim id, holder id, weight)`` of the loan's active claims: weight = principal outstanding
    (their shares once no principal is left, for a last payment of interest or penalty only)."""
    return active_claims_of([loan_id]).get(loan_id, [])


def active_claims_of(loan_ids) -> dict[int, list[tuple[int, int, int]]]:
    """:func:`active_claims` of many loans, in one query: ``{loan id: [(claim id, holder id, weight)]}``."""
    rows = db.session.execute(
        select(Claim.loan_id, Claim.id, Claim.holder_id, Claim.principal_outstanding, Claim.share)
        .where(Claim.loan_id.in_(list(loan_ids)), Claim.status == "active").order_by(Claim.loan_id, Claim.id)
    ).all()
    by_loan: dict[int, list] = {}
    for loan_id, claim_id, holder, outstanding, share in rows:
        by_loan.setdefault(loan_id, []).append((claim_id, holder, outstanding, share))
    weighted = {}
    for loan_id, claims in by_loan.items():
        by_outstanding = any(outstanding for _, _, outstanding, _ in claims)
        weighted[loan_id] = [(claim_id, holder, outstanding if by_outstanding else share)
                             for claim_id, holder, outstanding, share in claims]
    return weighted


def _repay_claims(rep: Repayment) -> None:
    """Lower each claim's outstanding principal by its part of a repayment that is done."""
    rows = [(claim_id, p) for claim_id, _holder, p, _i, _pen, _fee in _parts_for(rep) if p]
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        # ONE ORM UPDATE (scoped to the tenant like any other) joined to the parts, sent as array literals
        v = select(_unnest_ints("ids", [r[0] for r in rows]).label("id"),
                   _unnest_ints("ps", [r[1] for r in rows]).label("p")).subquery("v")
        db.session.execute(
            update(Claim).where(Claim.id == v.c.id)
            .values(principal_outstanding=Claim.principal_outstanding - v.c.p)
            .execution_options(synchronize_session=False)
        )
        return
    current = dict(db.session.execute(select(Claim.id, Claim.principal_outstanding)
                                      .where(Claim.id.in_([r[0] for r in rows]))).all())
    db.session.execute(update(Claim).execution_options(synchronize_session=False),
                       [{"id": claim_id, "principal_outstanding": current[claim_id] - p} for claim_id, p in rows])


def _unnest_ints(name: str, values):
    """PostgreSQL: ``unnest(CAST(:name AS BIGINT[]))`` of these ints, bound as ONE array literal string
    (hundreds of ints bound one by one cost more to plan than to run)."""
    literal_array = "{" + ",".join(str(int(v)) for v in values) + "}"
    return func.unnest(cast(bindparam(name, literal_array, type_=String), ARRAY(BigInteger)))


def next_installment(loan_id: int) -> Installment | None:
    """The oldest unpaid installment."""
    return db.session.scalars(
        select(Installment).where(Installment.loan_id == loan_id, Installment.status.in_(("due", "overdue")))
        .order_by(Installment.number).execution_options(populate_existing=True)
    ).first()


def amount_to_repay(installment: Installment) -> int:
    """What the borrower pays for it now: principal, interest, management fee, penalty and late fee."""
    return installment.total_due


def prepayment_quote(loan: Loan) -> dict | None:
    """What paying the whole loan off now costs; None when an installment is overdue or nothing is owed."""
    unpaid = db.session.scalars(
        select(Installment).where(Installment.loan_id == loan.id, Installment.status.in_(("due", "overdue")))
        .order_by(Installment.number)
    ).all()
    if not unpaid or any(i.status == "overdue" for i in unpaid):
        return None
    principal = sum(i.principal for i in unpaid)
    current = unpaid[0]
    fee = apply_rate(principal, loan.terms.get("prepayment_fee_rate", "0"))
    return {"principal": principal, "interest": current.interest, "management_fee": current.management_fee,
            "prepayment_fee": fee, "total": principal + current.interest + current.management_fee + fee}


# --------------------------------------------------------------------- prepare


def _attempt_key(prefix: str, loan_id: int, installment_id: int | None, kind: str) -> str:
    """``<prefix>:<n>`` for the next attempt: ``n`` is one more than the repayments of this ``kind`` of this
    installment (of the loan, for a prepayment) — the count the daily collection uses for its batches
    (:mod:`core.lending.collection`), so both make the same keys, imported repayments counted alike."""
    query = select(func.count(Repayment.id)).where(Repayment.loan_id == loan_id, Repayment.kind == kind)
    if installment_id is not None:
        query = query.where(Repayment.installment_id == installment_id)
    tried = db.session.scalar(query) or 0
    return f"{prefix}:{tried + 1}"


def _legs(rep: Repayment, parts) -> list:
    """The stored repayment as custody legs: payer → each holder (net), → fee income, → reserve."""
    from core.custody.service import Leg

    source = rep.payer_id if rep.payer_id is not None else "risk_reserve"
    to_holders: OrderedDict[int, int] = OrderedDict()
    for _claim_id, holder, p, i, pen, fee in parts:
        to_holders[holder] = to_holders.get(holder, 0) + p + i + pen - fee
    legs = [Leg(source, holder, amount) for holder, amount in to_holders.items() if amount > 0]
    if rep.platform_fee:
        legs.append(Leg(source, "fee_income", rep.platform_fee))
    if rep.to_reserve:
        legs.append(Leg(source, "risk_reserve", rep.to_reserve))
    return legs


def _store(loan: Loan, installment: Installment | None, *, kind: str, key: str, payer_id, parts: list[Part],
           principal: int, interest: int, penalty: int, platform_fee: int, to_reserve: int, day: date,
           batch_key: str | None = None) -> Repayment:
    """A ``pending`` repayment and its distributions (flushed)."""
    rep = _new_repayment(loan.id, installment.id if installment is not None else None, kind=kind, key=key,
                         payer_id=payer_id, parts=parts, principal=principal, interest=interest, penalty=penalty,
                         platform_fee=platform_fee, to_reserve=to_reserve, day=day, batch_key=batch_key)
    db.session.add(rep)
    db.session.flush()
    _insert_distributions([(rep.id, parts)])
    return rep


def _new_repayment(loan_id: int, installment_id: int | None, *, kind: str, key: str, payer_id, parts: list[Part],
                   principal: int, interest: int, penalty: int, platform_fee: int, to_reserve: int, day: date,
                   batch_key: str | None = None) -> Repayment:
    amount = sum(p.net for p in parts) + platform_fee + to_reserve
    return Repayment(loan_id=loan_id, installment_id=installment_id, kind=kind, key=key, batch_key=batch_key,
                     state="pending", payer_id=payer_id, amount=amount, principal=principal, interest=interest,
                     penalty=penalty, platform_fee=platform_fee, to_reserve=to_reserve, day=day)


def _insert_distributions(per_repayment) -> None:
    """Every ``(repayment id, parts)``'s distributions, in ONE statement."""
    rows = [(rep_id, p) for rep_id, parts in per_repayment for p in parts]
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        # ONE ORM INSERT … SELECT of the parts sent as array literals; tenant_id is the bound tenant's
        columns = ("claim_id", "holder_id", "principal", "interest", "penalty", "fee")
        db.session.execute(
            insert(Distribution).from_select(
                ["tenant_id", "repayment_id", *columns],
                select(literal(current_tenant_id(), Integer), _unnest_ints("repayment_ids", [r for r, _ in rows]),
                       *[_unnest_ints(c, [getattr(p, c) for _, p in rows]) for c in columns]),
            )
        )
        return
    tenant_id = current_tenant_id()
    db.session.execute(insert(Distribution), [
        {"tenant_id": tenant_id, "repayment_id": rep_id, "claim_id": p.claim_id, "holder_id": p.holder_id,
         "principal": p.principal, "interest": p.interest, "penalty": p.penalty, "fee": p.fee} for rep_id, p in rows])


def _pending_for(installment_id: int | None, loan_id: int, kind: str) -> Repayment | None:
    query = select(Repayment).where(Repayment.loan_id == loan_id, Repayment.state == "pending", Repayment.kind == kind)
    if installment_id is not None:
        query = query.where(Repayment.installment_id == installment_id)
    return db.session.scalars(query.order_by(Repayment.id)).first()


def paying_otherwise(loan_id: int, installment_id: int | None, kind: str) -> bool:
    """True while another payment of the same money is under way (pending): a prepayment of the loan, or a
    payment of this installment of another kind (the borrower's, the reserve's advance). Paying now as well
    could pay the holders twice. Call it with the loan locked."""
    others = select(Repayment.id).where(Repayment.loan_id == loan_id, Repayment.state == "pending",
                                        Repayment.kind != kind)
    if installment_id is None:  # a prepayment pays every installment
        return db.session.scalar(others.limit(1)) is not None
    return db.session.scalar(others.where(
        (Repayment.kind == "prepayment") | (Repayment.installment_id == installment_id)).limit(1)) is not None


def _prepare_installment(loan_id: int, installment_id: int, day: date, *, by_reserve: bool) -> int | None:
    """Step 1 for an installment: the pending repayment's id (an existing pending one is resumed); None when
    nothing is to be paid now (paid already, advanced already, or being paid otherwise)."""
    kind = "reserve_advance" if by_reserve else "installment"
    with writing():
        loan = lock_loan(loan_id)
        pending = _pending_for(installment_id, loan_id, kind)
        if pending is not None:
            return pending.id
        if paying_otherwise(loan_id, installment_id, kind):
            return None
        inst = db.session.scalars(select(Installment).where(Installment.id == installment_id)
                                  .execution_options(populate_existing=True)).one()
        if inst.status not in ("due", "overdue"):
            return None
        terms = loan.terms
        claims = active_claims(loan.id)
        if by_reserve:
            if inst.advanced_on is not None:
                return None
            parts = split(inst.principal, inst.interest, 0, terms.get("investor_fee_rate", "0"), claims)
            return _store(loan, inst, kind=kind, key=_attempt_key(f"advance:{inst.id}", loan.id, inst.id, kind),
                          payer_id=None, parts=parts,
                          principal=inst.principal, interest=inst.interest, penalty=0, platform_fee=0,
                          to_reserve=0, day=day).id
        return _store(loan, inst, kind=kind, key=_attempt_key(f"repay:{inst.id}", loan.id, inst.id, kind),
                      **installment_payment(loan, inst, claims), day=day).id


def installment_payment(loan: Loan, inst: Installment, claims) -> dict:
    """What the borrower's payment of ``inst`` is made of: the payer, the holders' parts and the platform's
    and the reserve's amounts (keyword arguments of :func:`_store`)."""
    terms = loan.terms
    fee_on_interest = apply_rate(inst.interest, terms.get("investor_fee_rate", "0")) if inst.interest else 0
    platform = inst.management_fee + inst.late_fee
    if inst.advanced_on is not None:
        # the reserve already paid the holders: the borrower repays the reserve, the platform keeps its fees
        reserve_part = inst.principal + inst.interest - fee_on_interest + inst.penalty
        return dict(payer_id=loan.borrower_id, parts=[], principal=inst.principal, interest=inst.interest,
                    penalty=inst.penalty, platform_fee=platform + fee_on_interest, to_reserve=reserve_part)
    parts = split(inst.principal, inst.interest, inst.penalty, terms.get("investor_fee_rate", "0"), claims)
    return dict(payer_id=loan.borrower_id, parts=parts, principal=inst.principal, interest=inst.interest,
                penalty=inst.penalty, platform_fee=platform + sum(p.fee for p in parts), to_reserve=0)


# --------------------------------------------------------------------- move and settle


def _parts_for(rep: Repayment) -> list:
    rows = db.session.execute(
        select(Distribution.claim_id, Distribution.holder_id, Distribution.principal, Distribution.interest,
               Distribution.penalty, Distribution.fee).where(Distribution.repayment_id == rep.id)
        .order_by(Distribution.id)
    ).all()
    return [tuple(r) for r in rows]


def resume(repayment_id: int) -> Repayment:
    """Steps 2 and 3 for a pending repayment: move the money under its key, then settle."""
    from core.custody import service as custody

    rep = db.session.get(Repayment, repayment_id)
    if rep.state != "pending":
        return rep
    if rep.batch_key is not None:
        from core.lending.collection import resume_batch

        resume_batch(rep.batch_key)
        return db.session.scalars(select(Repayment).where(Repayment.id == repayment_id)
                                  .execution_options(populate_existing=True)).one()
    loan_number = db.session.scalar(select(Loan.number).where(Loan.id == rep.loan_id))
    try:
        instruction = custody.batch_transfer(_legs(rep, _parts_for(rep)), key=rep.key, memo=f"{rep.kind} of {loan_number}")
    except InsufficientFunds:
        return _settle(repayment_id, "refused", "insufficient_funds")
    except LedgerError as exc:
        return _settle(repayment_id, "refused", exc.reason)
    return _settle(repayment_id, instruction.state, instruction.reason)


def _settle(repayment_id: int, outcome: str, reason: str | None) -> Repayment:
    if outcome not in ("confirmed", "refused"):
        return db.session.get(Repayment, repayment_id)
    with writing():
        rep = db.session.get(Repayment, repayment_id)
        loan = lock_loan(rep.loan_id)
        rep = db.session.scalars(select(Repayment).where(Repayment.id == repayment_id)
                                 .execution_options(populate_existing=True)).one()
        if rep.state != "pending":
            return rep
        if outcome == "refused":
            rep.state = "failed"
            rep.reason = (reason or "refused")[:200]
            return rep
        rep.state = "done"
        _repay_claims(rep)
        if rep.kind == "reserve_advance":
            _advanced(loan, rep)
        elif rep.kind == "installment":
            _installment_paid(loan, rep)
        elif rep.kind == "prepayment":
            _prepaid(loan, rep)
        db.session.flush()
        return rep


def _advanced(loan: Loan, rep: Repayment) -> None:
    inst = db.session.get(Installment, rep.installment_id)
    inst.advanced_on = rep.day
    loan.owed_to_reserve += rep.amount
    for holder_id, amount in _per_holder(rep).items():
        notify(holder_id, "reserve_paid", f"advance:{inst.id}:{holder_id}", loan=loan, amount=amount,
               installment=inst.number)


def _per_holder(rep: Repayment) -> dict[int, int]:
    out: dict[int, int] = {}
    for _claim, holder, p, i, pen, fee in _parts_for(rep):
        out[holder] = out.get(holder, 0) + p + i + pen - fee
    return out


def _installment_paid(loan: Loan, rep: Repayment, *, still_open: list[str] | None = None) -> None:
    """The installment of ``rep`` is paid. ``still_open``: the loan's other unpaid installments' statuses,
    when the caller has read them already (a batch), else they are read here."""
    inst = db.session.get(Installment, rep.installment_id)
    inst.status = "paid"
    inst.paid_on = rep.day
    loan.principal_outstanding -= inst.principal
    loan.principal_repaid += inst.principal
    if inst.advanced_on is not None:
        loan.owed_to_reserve -= rep.to_reserve - rep.penalty
    notify(loan.borrower_id, "repaid", f"repaid:{rep.key}", loan=loan, amount=rep.amount, installment=inst.number)
    _after_payment(loan, still_open)


def _after_payment(loan: Loan, open_statuses: list[str] | None = None) -> None:
    if open_statuses is None:
        open_statuses = db.session.execute(
            select(Installment.status).where(Installment.loan_id == loan.id, Installment.status.in_(("due", "overdue")))
        ).scalars().all()
    if not open_statuses:
        if loan.status in ("repaying", "overdue"):
            move(loan, "paid_off")
            db.session.execute(
                update(Claim).where(Claim.loan_id == loan.id, Claim.status == "active").values(status="closed")
                .execution_options(synchronize_session=False)
            )
            notify(loan.borrower_id, "paid_off", f"paid_off:{loan.id}", loan=loan)
    elif loan.status == "overdue" and "overdue" not in open_statuses:
        move(loan, "repaying")


def _prepaid(loan: Loan, rep: Repayment) -> None:
    unpaid = db.session.scalars(
        select(Installment).where(Installment.loan_id == loan.id, Installment.status.in_(("due", "overdue")))
    ).all()
    for inst in unpaid:
        inst.status = "paid"
        inst.paid_on = rep.day
    loan.principal_outstanding -= rep.principal
    loan.principal_repaid += rep.principal
    notify(loan.borrower_id, "repaid", f"repaid:{rep.key}", loan=loan, amount=rep.amount, installment="*")
    _after_payment(loan)


# --------------------------------------------------------------------- what callers use


def repay_installment(loan_id: int, *, installment_id: int | None = None, day: date | None = None,
                      check_funds: bool = True) -> Repayment:
    """The borrower pays an installment (the oldest unpaid one by default) from their custody account.

    Refuses with :class:`LendingError` when nothing is due or the available
    funds do not cover it (nothing is recorded then).
    """
    from core.lending.bidding import spendable

    loan = get_loan(loan_id)
    if loan.status not in ("repaying", "overdue", "defaulted"):
        raise not_now(loan, _l("repaying"))
    inst = db.session.get(Installment, installment_id) if installment_id else next_installment(loan.id)
    if inst is None or inst.loan_id != loan.id or inst.status not in ("due", "overdue"):
        raise Conflict(_l("Nothing is due on loan %(number)s.", number=loan.number), code="nothing_due")
    day = day or tenant_today()
    pending = _pending_for(inst.id, loan.id, "installment")
    if pending is None and check_funds and (spendable(loan.borrower_id) or 0) < inst.total_due:
        raise LendingError(_l("Your available funds do not cover the %(amount)s due. Please deposit first.",
                              amount=_money(inst.total_due, loan.currency)), code="insufficient_funds")
    rep_id = _prepare_installment(loan.id, inst.id, day, by_reserve=False)
    if rep_id is None:
        if paying_otherwise(loan.id, inst.id, "installment"):
            raise Conflict(_l("A payment of loan %(number)s is under way; try again once it is settled.",
                              number=loan.number), code="payment_under_way")
        raise Conflict(_l("Nothing is due on loan %(number)s.", number=loan.number), code="nothing_due")
    return resume(rep_id)


def advance_from_reserve(loan_id: int, installment_id: int, day: date) -> Repayment | None:
    """The risk reserve pays the holders what they were due for an overdue installment (垫付)."""
    rep_id = _prepare_installment(loan_id, installment_id, day, by_reserve=True)
    return resume(rep_id) if rep_id is not None else None


def prepay(loan_id: int, *, day: date | None = None) -> Repayment:
    """The borrower pays the whole loan off now: remaining principal, this period's interest and
    management fee, and the product's prepayment fee on the principal."""
    from core.lending.bidding import spendable

    day = day or tenant_today()
    loan = get_loan(loan_id)
    if loan.status != "repaying":
        raise not_now(loan, _l("prepayment"))
    with writing():
        loan = lock_loan(loan_id)
        pending = _pending_for(None, loan.id, "prepayment")
        if pending is not None:
            rep_id = pending.id
        elif paying_otherwise(loan.id, None, "prepayment"):
            raise Conflict(_l("A payment of loan %(number)s is under way; try again once it is settled.",
                              number=loan.number), code="payment_under_way")
        else:
            quote = prepayment_quote(loan)
            if quote is None:
                raise Conflict(_l("Repay the overdue installments first."), code="overdue_first")
            if (spendable(loan.borrower_id) or 0) < quote["total"]:
                raise LendingError(_l("Your available funds do not cover the %(amount)s due. Please deposit first.",
                                      amount=_money(quote["total"], loan.currency)), code="insufficient_funds")
            parts = split(quote["principal"], quote["interest"], 0, loan.terms.get("investor_fee_rate", "0"),
                          active_claims(loan.id))
            rep_id = _store(loan, None, kind="prepayment",
                            key=_attempt_key(f"prepay:{loan.id}", loan.id, None, "prepayment"),
                            payer_id=loan.borrower_id, parts=parts, principal=quote["principal"],
                            interest=quote["interest"], penalty=0,
                            platform_fee=quote["management_fee"] + quote["prepayment_fee"] + sum(p.fee for p in parts),
                            to_reserve=0, day=day).id
    return resume(rep_id)


def settle_pending() -> dict:
    """Resume every pending repayment (a crash or a bank that had not answered); returns counts."""
    counts = {"checked": 0, "done": 0, "failed": 0, "pending": 0}
    for rep_id in db.session.scalars(select(Repayment.id).where(Repayment.state == "pending").order_by(Repayment.id)).all():
        counts["checked"] += 1
        counts[resume(rep_id).state] += 1
    return counts


def _money(amount: int, currency: str) -> str:
    from core.lending.bidding import _money as fmt

    return fmt(amount, currency)
