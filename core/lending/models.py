"""Loans and everything hanging off them: reviews, bids, claims, installments, repayments.

Money columns are ``BigInteger`` minor units of the tenant's currency; rates
``Numeric``. User ids (borrower, investor, staff) carry no foreign key: the
users table lives on another migration branch (as ``ledger_account.owner_user_id``).

The loan's states and the only moves between them (:data:`LOAN_TRANSITIONS`)::

    draft → submitted → approved → listed → funded → disbursed → repaying ⇄ overdue → paid_off
                      ↘ rejected          ↘ failed                          ↘ defaulted → written_off
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantScoped

LOAN_STATES = (
    "draft", "submitted", "approved", "listed", "funded", "disbursed", "repaying", "overdue", "paid_off",
    "rejected", "failed", "defaulted", "written_off",
)
#: The loan's state machine: every allowed move, and no other.
LOAN_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted"}),
    "submitted": frozenset({"approved", "rejected"}),
    "approved": frozenset({"listed"}),
    "listed": frozenset({"funded", "failed"}),
    "funded": frozenset({"disbursed"}),
    "disbursed": frozenset({"repaying"}),
    "repaying": frozenset({"overdue", "paid_off"}),
    "overdue": frozenset({"repaying", "paid_off", "defaulted"}),
    "defaulted": frozenset({"written_off"}),
    "paid_off": frozenset(),
    "rejected": frozenset(),
    "failed": frozenset(),
    "written_off": frozenset(),
}
#: States in which the borrower owes the loan (installments exist).
OWING_STATES = ("disbursed", "repaying", "overdue", "defaulted")
REVIEW_STEPS = ("review", "risk")
REVIEW_DECISIONS = ("approved", "rejected")
#: A bid: ``pending`` (amount reserved on the loan, freeze sent), ``frozen`` (bank froze it),
#: ``void`` (freeze refused or never made), ``released`` (unfrozen: listing failed), ``settled`` (disbursed).
BID_STATES = ("pending", "frozen", "void", "released", "settled")
CLAIM_STATES = ("active", "transferred", "closed")
#: ``due`` (not yet paid), ``overdue`` (past the grace days), ``paid``, ``written_off``.
INSTALLMENT_STATES = ("due", "overdue", "paid", "written_off")
REPAYMENT_KINDS = ("installment", "prepayment", "reserve_advance", "transfer")
REPAYMENT_STATES = ("pending", "done", "failed")
NOTICE_STATES = ("sent", "failed", "skipped")
RUN_STATES = ("running", "done", "failed")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Loan(TenantScoped, db.Model):
    """One loan, from the borrower's application to its last repayment."""

    __tablename__ = "loan"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint(_in("status", LOAN_STATES), name="status"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("bid_total >= 0 AND bid_total <= amount", name="bid_total"),
        CheckConstraint("frozen_total >= 0 AND frozen_total <= bid_total", name="frozen_total"),
        Index("ix_loan_tenant_id_status", "tenant_id", "status"),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The loan's number on contracts and pages: ``LN00000042``.
    number: Mapped[str] = mapped_column(String(32))
    #: The borrowing user (user_account.id).
    borrower_id: Mapped[int] = mapped_column(Integer, index=True)
    #: ``person`` or ``enterprise``.
    borrower_type: Mapped[str] = mapped_column(String(16))
    #: The product's code in tenant.yaml; its terms are copied into ``terms`` when submitted.
    product_code: Mapped[str] = mapped_column(String(40))
    #: The product as it was when the loan was submitted (fees, grace days, bidding rules).
    terms: Mapped[dict] = mapped_column(JSON)
    #: Principal asked for, minor units.
    amount: Mapped[int] = mapped_column(BigInteger)
    #: ISO 4217 code (the tenant's currency).
    currency: Mapped[str] = mapped_column(String(3))
    #: Annual interest rate.
    annual_rate: Mapped[Decimal] = mapped_column(Numeric(9, 6))
    #: Term in months.
    months: Mapped[int] = mapped_column(Integer)
    #: Repayment method (core.lending.schedule.METHODS).
    method: Mapped[str] = mapped_column(String(20))
    #: What the money is for (disclosed).
    purpose: Mapped[str] = mapped_column(String(500), default="")
    #: Where the repayments will come from (disclosed).
    repayment_source: Mapped[str] = mapped_column(String(500), default="")
    #: The borrower's industry or occupation (disclosed).
    industry: Mapped[str] = mapped_column(String(100), default="")
    #: Monthly income the borrower declares, minor units (disclosed).
    monthly_income: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Safeguards (guarantee, collateral, none), as declared (disclosed).
    safeguards: Mapped[str] = mapped_column(String(500), default="")
    #: The borrower's credit subject key (blind index of the identity number), for the credit module's hooks.
    subject_key: Mapped[str | None] = mapped_column(String(128))
    #: Credit grade when submitted (AAA … C).
    grade: Mapped[str | None] = mapped_column(String(3))
    #: The risk officer's assessment, written when approving (disclosed).
    risk_assessment: Mapped[str] = mapped_column(Text, default="")
    #: What the listing page discloses about the borrower, fixed at submission (masked identity, credit figures).
    disclosure: Mapped[dict] = mapped_column(JSON, default=dict)
    #: One of LOAN_STATES; changed only through core.lending.lifecycle.move.
    status: Mapped[str] = mapped_column(String(16), default="draft")
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The next review step while submitted: ``review`` then ``risk``; None otherwise.
    review_step: Mapped[str | None] = mapped_column(String(10))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    listed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The listing closes at this moment; unfunded then, it fails.
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Sum of pending and frozen bids: never above ``amount``.
    bid_total: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Sum of frozen (and, after disbursement, settled) bids.
    frozen_total: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The day the money reached the borrower; schedules count from it.
    disbursed_on: Mapped[date | None] = mapped_column(Date)
    #: Fees taken at disbursement, minor units.
    service_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    reserve_contribution: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Principal repaid so far (by the borrower or advanced by the reserve).
    principal_repaid: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Principal still owed by the borrower, interest excluded.
    principal_outstanding: Mapped[int] = mapped_column(BigInteger, default=0)
    #: What the borrower owes the risk reserve after it paid investors (垫付), minor units.
    owed_to_reserve: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Collection status staff set on overdue loans: none, contacted, promised, negotiating, legal.
    collection_status: Mapped[str] = mapped_column(String(20), default="none")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    installments: Mapped[list[Installment]] = relationship(order_by="Installment.number", viewonly=True)

    @property
    def audit_label(self) -> str:
        return f"loan:{self.number}"

    @property
    def remaining(self) -> int:
        """What is still open for bids."""
        return self.amount - self.bid_total

    def __repr__(self) -> str:
        return f"<Loan {self.number} {self.status}>"


class LoanEvent(TenantScoped, db.Model):
    """A status change of a loan: the loan's history as its pages show it."""

    __tablename__ = "loan_event"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(index=True)
    old_status: Mapped[str] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    #: ``user:42``, ``system`` or ``daily``.
    actor: Mapped[str] = mapped_column(String(64), default="system")
    #: Why, when a person decided (a rejection's reason).
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoanReview(TenantScoped, db.Model):
    """One step of an application's review: the reviewer's, then the risk officer's."""

    __tablename__ = "loan_review"
    __table_args__ = (
        UniqueConstraint("tenant_id", "loan_id", "step"),
        CheckConstraint(_in("step", REVIEW_STEPS), name="step"),
        CheckConstraint(_in("decision", REVIEW_DECISIONS), name="decision"),
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(index=True)
    #: ``review`` (reviewer) or ``risk`` (risk officer).
    step: Mapped[str] = mapped_column(String(10))
    #: ``approved`` or ``rejected``.
    decision: Mapped[str] = mapped_column(String(10))
    #: The staff member's reason (required for both decisions).
    reason: Mapped[str] = mapped_column(Text)
    #: The deciding staff user.
    reviewer_id: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Bid(TenantScoped, db.Model):
    """An investor's bid on a listed loan; the amount is frozen at the custody bank."""

    __tablename__ = "bid"
    __table_args__ = (
        UniqueConstraint("tenant_id", "request_key"),
        CheckConstraint(_in("state", BID_STATES), name="state"),
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_bid_tenant_id_loan_id_investor_id", "tenant_id", "loan_id", "investor_id"),
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(index=True)
    #: The investing user.
    investor_id: Mapped[int] = mapped_column(Integer, index=True)
    #: Amount bid (after trimming to what was left), minor units.
    amount: Mapped[int] = mapped_column(BigInteger)
    #: Amount the investor asked for.
    requested: Mapped[int] = mapped_column(BigInteger)
    #: pending, frozen, void, released or settled (see BID_STATES).
    state: Mapped[str] = mapped_column(String(10), default="pending")
    #: The caller's key: the same bid request twice makes one bid.
    request_key: Mapped[str] = mapped_column(String(200))
    #: True when an auto-bid rule placed it.
    auto: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why it was voided (the bank's or the ledger's reason).
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Claim(TenantScoped, db.Model):
    """An investor's claim (债权) on a disbursed loan: a share of every repayment, by ``share``."""

    __tablename__ = "claim"
    __table_args__ = (
        CheckConstraint(_in("status", CLAIM_STATES), name="status"),
        CheckConstraint("share > 0", name="share"),
        Index("ix_claim_tenant_id_loan_id_status", "tenant_id", "loan_id", "status"),
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "bid_id"], ["bid.tenant_id", "bid.id"]),
        ForeignKeyConstraint(["tenant_id", "previous_id"], ["claim.tenant_id", "claim.id"]),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column()
    #: The current holder.
    holder_id: Mapped[int] = mapped_column(Integer, index=True)
    #: Principal lent at disbursement, minor units.
    share: Mapped[int] = mapped_column(BigInteger)
    #: Principal of the claim not yet repaid: the weight of the pro-rata split, so the last
    #: installment repays every claim exactly what is left of it.
    principal_outstanding: Mapped[int] = mapped_column(BigInteger, default=0)
    #: ``active``; ``transferred`` (a successor claim holds it now); ``closed`` (loan finished).
    status: Mapped[str] = mapped_column(String(12), default="active")
    #: The bid it came from (None for a claim bought from another investor).
    bid_id: Mapped[int | None] = mapped_column()
    #: The claim it was bought from, for a transferred claim.
    previous_id: Mapped[int | None] = mapped_column()
    #: Price paid for it when bought, minor units (0 for a claim from a bid).
    price: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The holder offers it for sale at this price (债权转让), minor units; None: not for sale.
    asking_price: Mapped[int | None] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Installment(TenantScoped, db.Model):
    """One installment the borrower owes, from the loan's schedule."""

    __tablename__ = "installment"
    __table_args__ = (
        UniqueConstraint("tenant_id", "loan_id", "number"),
        CheckConstraint(_in("status", INSTALLMENT_STATES), name="status"),
        Index("ix_installment_tenant_id_status_due_date", "tenant_id", "status", "due_date"),
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column()
    #: 1, 2, … as in the schedule.
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    #: Principal, interest and monthly management fee due, minor units.
    principal: Mapped[int] = mapped_column(BigInteger)
    interest: Mapped[int] = mapped_column(BigInteger)
    management_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    #: due, overdue, paid or written_off.
    status: Mapped[str] = mapped_column(String(12), default="due")
    #: Penalty interest accrued so far, and the last day it was accrued for.
    penalty: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty_through: Mapped[date | None] = mapped_column(Date)
    #: Late fee charged once when it became overdue.
    late_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    overdue_since: Mapped[date | None] = mapped_column(Date)
    #: The day the risk reserve paid investors their due for it (垫付); the borrower then owes the reserve.
    advanced_on: Mapped[date | None] = mapped_column(Date)
    paid_on: Mapped[date | None] = mapped_column(Date)

    @property
    def amount_due(self) -> int:
        """Principal + interest + management fee (penalty and late fee excluded)."""
        return self.principal + self.interest + self.management_fee

    @property
    def total_due(self) -> int:
        """Everything owed for it: amount due, penalty and late fee."""
        return self.amount_due + self.penalty + self.late_fee


class Repayment(TenantScoped, db.Model):
    """Money moved for a loan after disbursement: an installment paid, a prepayment, a reserve advance,
    a claim transfer. ``key`` is its idempotency key (also the custody instruction's)."""

    __tablename__ = "repayment"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index("ix_repayment_tenant_id_batch_key", "tenant_id", "batch_key"),
        CheckConstraint(_in("kind", REPAYMENT_KINDS), name="kind"),
        CheckConstraint(_in("state", REPAYMENT_STATES), name="state"),
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "installment_id"], ["installment.tenant_id", "installment.id"]),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(index=True)
    installment_id: Mapped[int | None] = mapped_column()
    #: installment, prepayment, reserve_advance or transfer.
    kind: Mapped[str] = mapped_column(String(20))
    #: Idempotency key: ``repay:<installment id>``, ``advance:<installment id>``…
    key: Mapped[str] = mapped_column(String(200))
    #: Set when the money moved in a collection batch of the daily run: the key of that batch's ONE
    #: custody instruction (and ledger entry), shared by every repayment of the batch; ``key`` then
    #: names only the repayment.
    batch_key: Mapped[str | None] = mapped_column(String(200))
    #: pending (instruction sent, no answer yet), done, failed (refused).
    state: Mapped[str] = mapped_column(String(10), default="pending")
    #: Who paid: the borrower's user id, or None for the risk reserve.
    payer_id: Mapped[int | None] = mapped_column(Integer)
    #: Total that left the payer, and its parts (minor units).
    amount: Mapped[int] = mapped_column(BigInteger)
    principal: Mapped[int] = mapped_column(BigInteger, default=0)
    interest: Mapped[int] = mapped_column(BigInteger, default=0)
    penalty: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Platform income: management fee, late fee, prepayment fee and investors' fees on interest.
    platform_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Part that went to the risk reserve (repaying its advance).
    to_reserve: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The day it counts for.
    day: Mapped[date] = mapped_column(Date)
    #: Why it failed.
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Distribution(TenantScoped, db.Model):
    """One claim holder's part of a repayment (the pro-rata split, cent-exact)."""

    __tablename__ = "distribution"
    __table_args__ = (
        # the tenant in the key: a join from repayments then needs no second index (and no bitmap AND
        # with the tenant's every row when the statistics lag behind a large daily run)
        Index("ix_distribution_repayment_id_tenant_id", "repayment_id", "tenant_id"),
        ForeignKeyConstraint(["tenant_id", "repayment_id"], ["repayment.tenant_id", "repayment.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "claim_id"], ["claim.tenant_id", "claim.id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repayment_id: Mapped[int] = mapped_column()
    claim_id: Mapped[int] = mapped_column()
    #: The holder paid (the claim's holder at the time).
    holder_id: Mapped[int] = mapped_column(Integer, index=True)
    principal: Mapped[int] = mapped_column(BigInteger)
    interest: Mapped[int] = mapped_column(BigInteger)
    penalty: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The platform's fee on this holder's interest.
    fee: Mapped[int] = mapped_column(BigInteger, default=0)


class CollectionNote(TenantScoped, db.Model):
    """Staff's note on collecting an overdue loan."""

    __tablename__ = "collection_note"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(index=True)
    author_id: Mapped[int] = mapped_column(Integer)
    #: The loan's collection status after this note.
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AutoBidRule(TenantScoped, db.Model):
    """An investor's standing instruction: bid on new listings that match."""

    __tablename__ = "auto_bid_rule"
    __table_args__ = (UniqueConstraint("tenant_id", "investor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    investor_id: Mapped[int] = mapped_column(Integer)
    #: Grades to invest in, e.g. ["AAA", "AA"].
    grades: Mapped[list] = mapped_column(JSON)
    #: Terms in months to invest in; empty: any.
    terms: Mapped[list] = mapped_column(JSON, default=list)
    #: At most this much per loan, minor units.
    max_per_loan: Mapped[int] = mapped_column(BigInteger)
    #: Only loans paying at least this annual rate.
    min_rate: Mapped[Decimal] = mapped_column(Numeric(9, 6), default=Decimal(0))
    #: Keep this much available, minor units.
    keep_available: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoanContract(TenantScoped, db.Model):
    """The loan contract, rendered at disbursement: HTML and PDF, the PDF's digest signed by the platform."""

    __tablename__ = "loan_contract"
    __table_args__ = (
        UniqueConstraint("tenant_id", "loan_id", "locale"),
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(index=True)
    locale: Mapped[str] = mapped_column(String(16))
    html: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    #: SHA-256 of the PDF, hex.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Ed25519 signature of the digest by the platform key, base64.
    signature: Mapped[str] = mapped_column(String(200))
    #: Which platform key signed (its public key's fingerprint).
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoanNotice(TenantScoped, db.Model):
    """An SMS notice about a loan, sent once per ``key`` (a rerun job never texts twice)."""

    __tablename__ = "loan_notice"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint(_in("state", NOTICE_STATES), name="state"),
        ForeignKeyConstraint(["tenant_id", "loan_id"], ["loan.tenant_id", "loan.id"], ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    loan_id: Mapped[int | None] = mapped_column()
    #: The notice's name: loan_listed, bid_placed, loan_funded, disbursed, due_soon, repaid, overdue…
    event: Mapped[str] = mapped_column(String(40))
    #: The text as sent.
    text: Mapped[str] = mapped_column(Text, default="")
    #: sent, failed (the gateway refused) or skipped (no mobile number).
    state: Mapped[str] = mapped_column(String(10), default="sent")
    message_id: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DailyRun(TenantScoped, db.Model):
    """One step of ``lendkit daily`` for one day: started, finished, what it did."""

    __tablename__ = "daily_run"
    __table_args__ = (
        UniqueConstraint("tenant_id", "day", "step"),
        CheckConstraint(_in("state", RUN_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    step: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default="running")
    #: What the step did: {"repaid": 12, "short": 1, …}.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Times the step was started for this day (a rerun adds one).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
