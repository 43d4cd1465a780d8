"""Instructions to the custody bank, and the daily reconciliation's results.

An instruction's states::

    created ──▶ sent ──▶ confirmed          (entry posted)
       │  │       └────▶ refused            (entry voided)
       │  └─────────────▶ confirmed | refused
       └──▶ unknown ──▶ sent | confirmed | refused   (only by querying the bank)

``created``: recorded with its pending ledger entry, not (yet) known to be
accepted by the bank; resending the same request number is safe. ``sent``:
the bank accepted it and will answer later (callback or query). ``unknown``:
the bank may or may not have it (timeout, error after sending); only a query
with the same request number settles it.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.custody.provider import INSTRUCTION_KINDS
from core.extensions import db
from core.ledger.models import JournalEntry
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantScoped

INSTRUCTION_STATES = ("created", "sent", "confirmed", "refused", "unknown")
#: Allowed instruction state changes; anything else raises InvalidTransition.
INSTRUCTION_TRANSITIONS = {
    "created": frozenset({"sent", "confirmed", "refused", "unknown"}),
    "sent": frozenset({"confirmed", "refused"}),
    "unknown": frozenset({"sent", "confirmed", "refused"}),
    "confirmed": frozenset(),
    "refused": frozenset(),
}
FINAL_STATES = frozenset({"confirmed", "refused"})

DIFFERENCE_KINDS = ("missing_at_bank", "missing_in_ledger", "amount_differs", "balance_differs")
RUN_STATUSES = ("clean", "differences")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CustodyInstruction(TenantScoped, db.Model):
    """One order to the custody bank, identified there by ``request_no``."""

    __tablename__ = "custody_instruction"
    __table_args__ = (
        UniqueConstraint("tenant_id", "request_no"),
        UniqueConstraint("tenant_id", "idempotency_key"),
        CheckConstraint(_in("kind", INSTRUCTION_KINDS), name="kind"),
        CheckConstraint(_in("state", INSTRUCTION_STATES), name="state"),
        Index("ix_custody_instruction_tenant_id_state", "tenant_id", "state"),
        ForeignKeyConstraint(["tenant_id", "entry_id"], ["journal_entry.tenant_id", "journal_entry.id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The bank's idempotency key: every send of this instruction carries it.
    request_no: Mapped[str] = mapped_column(String(64))
    #: The caller's key: the same operation requested twice gives this one instruction.
    idempotency_key: Mapped[str] = mapped_column(String(200))
    #: sha256 of the request body; the same key with another body is a conflict.
    digest: Mapped[str] = mapped_column(String(64))
    #: open_account, deposit, withdraw, freeze, unfreeze, transfer or batch_transfer.
    kind: Mapped[str] = mapped_column(String(20))
    #: created, sent, confirmed, refused or unknown (see the module's diagram).
    state: Mapped[str] = mapped_column(String(10), default="created")
    #: Name of the custody provider it went to (``sandbox``, ``http``…).
    provider: Mapped[str] = mapped_column(String(63))
    #: The instruction as sent (``Instruction.to_dict()``), personal details sealed; a resend is identical.
    body: Mapped[dict] = mapped_column(JSON)
    #: Whose account an ``open_account`` opens: ``user:42`` or ``platform:fee_income``.
    owner: Mapped[str | None] = mapped_column(String(64))
    #: The pending ledger entry it posts when confirmed (None for open_account).
    entry_id: Mapped[int | None] = mapped_column()
    #: The bank's reference once it has one.
    bank_ref: Mapped[str | None] = mapped_column(String(64))
    #: Why the bank refused, or the last transport failure (``read_timeout``…).
    reason: Mapped[str | None] = mapped_column(String(64))
    #: Times the instruction was handed to the provider (sends and resends).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    memo: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: First time the bank acknowledged it (accepted or decided).
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When it reached confirmed or refused.
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    entry: Mapped[JournalEntry | None] = relationship(viewonly=True)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def __repr__(self) -> str:
        return f"<CustodyInstruction {self.request_no} {self.kind} {self.state}>"


class ReconciliationRun(TenantScoped, db.Model):
    """One comparison of the ledger with the bank's statement of a day."""

    __tablename__ = "reconciliation_run"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        Index("ix_reconciliation_run_tenant_id_day", "tenant_id", "day"),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The statement day compared.
    day: Mapped[date] = mapped_column(Date)
    #: ISO 4217 code of the statement.
    currency: Mapped[str] = mapped_column(String(3))
    #: The custody provider whose statement was used.
    provider: Mapped[str] = mapped_column(String(63))
    #: ``clean`` or ``differences``.
    status: Mapped[str] = mapped_column(String(12))
    #: Number of lines in the bank's statement.
    bank_lines: Mapped[int] = mapped_column(Integer, default=0)
    #: Number of posted ledger entries with a request number and that value date.
    ledger_entries: Mapped[int] = mapped_column(Integer, default=0)
    #: Number of differences found (rows in reconciliation_difference).
    difference_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    differences: Mapped[list[ReconciliationDifference]] = relationship(
        back_populates="run", order_by="ReconciliationDifference.id", viewonly=True
    )


class ReconciliationDifference(TenantScoped, db.Model):
    """One difference between the ledger and the bank: by account and request number."""

    __tablename__ = "reconciliation_difference"
    __table_args__ = (
        CheckConstraint(_in("kind", DIFFERENCE_KINDS), name="kind"),
        ForeignKeyConstraint(["tenant_id", "run_id"], ["reconciliation_run.tenant_id", "reconciliation_run.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(index=True)
    #: missing_at_bank, missing_in_ledger, amount_differs or balance_differs.
    kind: Mapped[str] = mapped_column(String(20))
    #: The instruction's request number (None for a closing balance difference).
    request_no: Mapped[str | None] = mapped_column(String(64))
    #: The custody sub-account (or ``platform:bank_clearing``) concerned.
    account: Mapped[str] = mapped_column(String(100))
    #: ``available``, ``frozen`` or ``total``.
    bucket: Mapped[str] = mapped_column(String(10))
    #: What the ledger says, minor units (movement or closing balance); None when absent.
    ledger_amount: Mapped[int | None] = mapped_column(BigInteger)
    #: What the bank says, minor units; None when absent.
    bank_amount: Mapped[int | None] = mapped_column(BigInteger)
    #: A hint for the person reading it, e.g. "entry pending: instruction unknown".
    note: Mapped[str] = mapped_column(String(200), default="")

    run: Mapped[ReconciliationRun] = relationship(back_populates="differences", viewonly=True)
