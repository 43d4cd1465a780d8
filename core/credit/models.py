"""Stored bureau reports and current credit grades, per tenant.

Subjects are keyed by ``subject_key``, a string the caller supplies (the
accounts module's blind index of the identity number), so neither table holds
an identity number in the clear; the stored report's ``subject_id`` is masked.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.credit.report import BureauReport
from core.credit.scoring import History
from core.extensions import db
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantScoped

#: Grade states and the allowed transitions: a regrade may land anywhere.
GRADE_STATUSES = ("graded", "refused")
GRADE_TRANSITIONS = {
    "graded": {"graded", "refused"},
    "refused": {"graded", "refused"},
}


class CreditReport(TenantScoped, db.Model):
    """A bureau report as fetched; reused within the tenant's freshness window."""

    __tablename__ = "credit_report"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint("subject_type IN ('person', 'enterprise')", name="subject_type"),
        Index("ix_credit_report_subject", "tenant_id", "subject_key", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The caller's key for the subject (a blind index), never the identity number itself.
    subject_key: Mapped[str] = mapped_column(String(128))
    #: ``person`` or ``enterprise``.
    subject_type: Mapped[str] = mapped_column(String(16))
    #: Provider name that answered (``sandbox``, ``http``).
    bureau: Mapped[str] = mapped_column(String(63))
    #: The bureau's own report number.
    reference: Mapped[str] = mapped_column(String(64))
    #: When lendkit received it; the freshness window counts from here.
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The bureau score (300–900), None when the bureau has none.
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Whether the identity matched at the bureau.
    identity_matched: Mapped[bool] = mapped_column(Boolean)
    #: What the subject owes on other lending platforms, minor units of ``currency``.
    platform_balance: Mapped[int] = mapped_column(BigInteger)
    #: What the subject owes to every kind of lender, minor units of ``currency``.
    total_balance: Mapped[int] = mapped_column(BigInteger)
    #: Currency of the report's amounts (bureaus report in CNY).
    currency: Mapped[str] = mapped_column(String(3))
    #: The report in its JSON form (core.credit.report.ReportSchema), ``subject_id`` masked.
    raw: Mapped[dict] = mapped_column(JSON)

    @property
    def report(self) -> BureauReport:
        return BureauReport.from_dict(self.raw)

    @classmethod
    def latest(cls, subject_key: str) -> CreditReport | None:
        query = select(cls).where(cls.subject_key == subject_key).order_by(cls.fetched_at.desc(), cls.id.desc())
        return db.session.scalars(query.limit(1)).first()


class CreditGrade(TenantScoped, db.Model):
    """A subject's current grade (or refusal), with the figures and the report it came from."""

    __tablename__ = "credit_grade"
    __table_args__ = (
        UniqueConstraint("tenant_id", "subject_key"),
        CheckConstraint("status IN ('graded', 'refused')", name="status"),
        CheckConstraint("subject_type IN ('person', 'enterprise')", name="subject_type"),
        CheckConstraint("grade IS NULL OR grade IN ('AAA', 'AA', 'A', 'B', 'C')", name="grade"),
        CheckConstraint("(status = 'graded') = (grade IS NOT NULL)", name="graded_has_grade"),
        ForeignKeyConstraint(["tenant_id", "report_id"], ["credit_report.tenant_id", "credit_report.id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The caller's key for the subject, as on its reports.
    subject_key: Mapped[str] = mapped_column(String(128))
    #: ``person`` or ``enterprise``.
    subject_type: Mapped[str] = mapped_column(String(16))
    #: The report the grade was computed from.
    report_id: Mapped[int] = mapped_column(Integer, index=True)
    #: ``graded`` or ``refused``.
    status: Mapped[str] = mapped_column(String(16))
    #: Why refused: identity_mismatch, blacklisted, court_judgment, score_too_low.
    refusal: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: Scorecard result, 0–100.
    score: Mapped[int] = mapped_column(Integer)
    #: AAA, AA, A, B or C; None when refused.
    grade: Mapped[str | None] = mapped_column(String(3), nullable=True)
    #: Credit limit in minor units of ``currency`` (0 when refused).
    credit_limit: Mapped[int] = mapped_column(BigInteger)
    #: The tenant's currency.
    currency: Mapped[str] = mapped_column(String(3))
    #: Annual interest-rate band of the grade; None when refused.
    rate_min: Mapped[Decimal | None] = mapped_column(Numeric(9, 6), nullable=True)
    rate_max: Mapped[Decimal | None] = mapped_column(Numeric(9, 6), nullable=True)
    #: Each factor's contribution, for staff: [{factor, weight, value, points, figures}].
    reasons: Mapped[list] = mapped_column(JSON)
    #: The platform history used: installments paid on time and late, amount overdue now, principal owed.
    on_time_count: Mapped[int] = mapped_column(Integer, default=0)
    late_count: Mapped[int] = mapped_column(Integer, default=0)
    overdue_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    owed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    #: When this grade was computed.
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    #: The report row (set ``report_id``; this side is read-only).
    report: Mapped[CreditReport] = relationship(viewonly=True)

    @property
    def history(self) -> History:
        return History(
            on_time=self.on_time_count, late=self.late_count, overdue_now=self.overdue_amount,
            owed=self.owed_amount, limit=self.credit_limit if self.status == "graded" else None,
        )

    @classmethod
    def for_subject(cls, subject_key: str) -> CreditGrade | None:
        return db.session.scalars(select(cls).where(cls.subject_key == subject_key)).first()
