"""The books: accounts, journal entries and their lines.

Amounts are ``int`` minor units, signed: a debit is positive, a credit
negative, so the lines of an entry sum to zero per currency. An account's
balance is the sum of its posted lines; ``balance``, ``pending_debit`` and
``pending_credit`` are caches of those sums, kept by :mod:`core.ledger.journal`
under row locks and checked by :func:`core.ledger.balances.verify_balances`.

Every account that mirrors a balance at the custody bank (``custody_bucket``
set) has a floor of zero on its *spendable* balance: posted normal balance
minus pending outflows. The check constraint ``funds`` enforces it in the
database as well as in Python.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantScoped

#: Accounting class of an account, as in beancount's five roots.
ACCOUNT_KINDS = ("asset", "liability", "equity", "income", "expense")
#: The side that increases an account.
NORMAL_SIDES = ("debit", "credit")
#: Which of a custody sub-account's two balances a ledger account mirrors.
CUSTODY_BUCKETS = ("available", "frozen")

#: The platform's own accounts, created per tenant on first use. ``custody``
#: is the bank sub-account each mirrors (None: not a bank balance).
PLATFORM_ACCOUNTS = {
    # All money at the custody bank, every sub-account together (an asset of the books).
    "bank_clearing": {"kind": "asset", "normal_side": "debit", "custody": None},
    # Fees the platform earned, held in its own sub-account.
    "fee_income": {"kind": "income", "normal_side": "credit", "custody": "PLATFORM-FEE"},
    # The risk reserve that pays investors when a borrower is late (垫付).
    "risk_reserve": {"kind": "liability", "normal_side": "credit", "custody": "PLATFORM-RESERVE"},
    # The platform's marketing budget (bonuses, coupons), its own money.
    "marketing": {"kind": "equity", "normal_side": "credit", "custody": "PLATFORM-MARKETING"},
}

ENTRY_STATES = ("pending", "posted", "voided")
#: Allowed entry state changes; anything else raises InvalidTransition.
ENTRY_TRANSITIONS = {
    "pending": frozenset({"posted", "voided"}),
    "posted": frozenset(),
    "voided": frozenset(),
}


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def user_account_code(user_id: int, bucket: str) -> str:
    """``user:42:available`` / ``user:42:frozen``."""
    return f"user:{int(user_id)}:{bucket}"


def platform_account_code(role: str) -> str:
    """``platform:fee_income`` and the like."""
    return f"platform:{role}"


class LedgerAccount(TenantScoped, db.Model):
    """One account of a tenant's books; ``code`` names it within the tenant."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),  # what a line's (tenant_id, account_id) refers to
        UniqueConstraint("tenant_id", "code"),
        UniqueConstraint("tenant_id", "custody_account", "custody_bucket"),
        CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind"),
        CheckConstraint(_in("normal_side", NORMAL_SIDES), name="normal_side"),
        CheckConstraint(f"custody_bucket IS NULL OR {_in('custody_bucket', CUSTODY_BUCKETS)}", name="custody_bucket"),
        CheckConstraint("pending_debit >= 0 AND pending_credit >= 0", name="pending"),
        CheckConstraint(
            "custody_bucket IS NULL"
            " OR (normal_side = 'credit' AND 0 - balance - pending_debit >= 0)"
            " OR (normal_side = 'debit' AND balance - pending_credit >= 0)",
            name="funds",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The owning tenant (indexed by the unique (tenant_id, id) and (tenant_id, code)).
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False)
    #: Unique name within the tenant: ``user:42:available``, ``platform:fee_income``.
    code: Mapped[str] = mapped_column(String(100))
    #: Accounting class: asset, liability, equity, income or expense.
    kind: Mapped[str] = mapped_column(String(16))
    #: ``debit`` or ``credit``: the side that increases the account.
    normal_side: Mapped[str] = mapped_column(String(6))
    #: The user owning the account (no foreign key until the users table exists); None for platform accounts.
    owner_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: Name of the custody bank sub-account this account mirrors, or None.
    custody_account: Mapped[str | None] = mapped_column(String(64))
    #: ``available`` or ``frozen``: which balance of that sub-account; None when not mirrored.
    custody_bucket: Mapped[str | None] = mapped_column(String(10))
    #: ISO 4217 code; every line of the account is in it.
    currency: Mapped[str] = mapped_column(String(3))
    #: Cache: sum of the posted lines, minor units, debit positive.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Cache: sum of the debit lines of pending entries (>= 0).
    pending_debit: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Cache: minus the sum of the credit lines of pending entries (>= 0).
    pending_credit: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def sign(self) -> int:
        """+1 for debit-normal accounts, -1 for credit-normal ones."""
        return 1 if self.normal_side == "debit" else -1

    @property
    def posted_balance(self) -> int:
        """Posted balance on the account's normal side (a user's available funds are positive)."""
        return self.sign * self.balance

    @property
    def pending_outflow(self) -> int:
        """Amount reserved by pending entries that take money out of the account."""
        return self.pending_debit if self.normal_side == "credit" else self.pending_credit

    @property
    def pending_inflow(self) -> int:
        """Amount pending entries will bring in once posted (not spendable before)."""
        return self.pending_credit if self.normal_side == "credit" else self.pending_debit

    @property
    def spendable(self) -> int:
        """Posted normal balance minus pending outflows: what may still leave the account."""
        return self.posted_balance - self.pending_outflow

    @property
    def has_floor(self) -> bool:
        """True when the account mirrors a bank balance, which can never go below zero."""
        return self.custody_bucket is not None

    def __repr__(self) -> str:
        return f"<LedgerAccount {self.code} {self.balance}>"


class JournalEntry(TenantScoped, db.Model):
    """One movement of money: lines summing to zero per currency; never edited once posted."""

    __tablename__ = "journal_entry"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),  # what a line's (tenant_id, entry_id) refers to
        UniqueConstraint("tenant_id", "idempotency_key"),
        UniqueConstraint("tenant_id", "reversal_of"),
        CheckConstraint(_in("state", ENTRY_STATES), name="state"),
        Index("ix_journal_entry_tenant_id_request_no", "tenant_id", "request_no"),
        ForeignKeyConstraint(["tenant_id", "reversal_of"], ["journal_entry.tenant_id", "journal_entry.id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The owning tenant (indexed by the unique (tenant_id, id) and (tenant_id, idempotency_key)).
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False)
    #: The caller's key: posting the same key twice posts once.
    idempotency_key: Mapped[str] = mapped_column(String(200))
    #: sha256 of the canonical body (kind, lines, links); same key with another digest is a conflict.
    digest: Mapped[str] = mapped_column(String(64))
    #: What the movement is: ``deposit``, ``withdraw``, ``freeze``, ``transfer``, ``reversal``…
    kind: Mapped[str] = mapped_column(String(30))
    #: Free text for people reading the books.
    memo: Mapped[str] = mapped_column(String(500), default="")
    #: ``pending`` (funds reserved), ``posted`` (counts) or ``voided`` (released).
    state: Mapped[str] = mapped_column(String(10), default="pending")
    #: The entry this one reverses, or None.
    reversal_of: Mapped[int | None] = mapped_column()
    #: The custody instruction's request number this entry mirrors, or None.
    request_no: Mapped[str | None] = mapped_column(String(64))
    #: The day the money moved at the bank (its statement day); set when posted.
    value_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lines: Mapped[list[JournalLine]] = relationship(back_populates="entry", order_by="JournalLine.id", viewonly=True)

    def __repr__(self) -> str:
        return f"<JournalEntry {self.id} {self.kind} {self.state} {self.idempotency_key!r}>"


class JournalLine(TenantScoped, db.Model):
    """One side of an entry: ``amount`` minor units on ``account`` (debit positive).

    Its keys include the tenant: ``(tenant_id, entry_id)`` and ``(tenant_id,
    account_id)`` refer to the entry's and the account's ``(tenant_id, id)``, so
    the database itself refuses a line whose entry or account is another
    tenant's. Two foreign-key checks per line instead of three (tenant, entry,
    account): a 10,000-line repayment entry is checked 20,000 times, not 30,000.
    """

    __tablename__ = "journal_line"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="nonzero"),
        ForeignKeyConstraint(["tenant_id", "entry_id"], ["journal_entry.tenant_id", "journal_entry.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "account_id"], ["ledger_account.tenant_id", "ledger_account.id"]),
        Index("ix_journal_line_tenant_id_entry_id", "tenant_id", "entry_id"),
        Index("ix_journal_line_tenant_id_account_id", "tenant_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The owning tenant; its entry's and its account's tenant (see the foreign keys above).
    tenant_id: Mapped[int] = mapped_column(Integer, nullable=False)
    #: The entry this line belongs to.
    entry_id: Mapped[int] = mapped_column(Integer)
    #: The account moved.
    account_id: Mapped[int] = mapped_column(Integer)
    #: Signed minor units: debit positive, credit negative, never zero.
    amount: Mapped[int] = mapped_column(BigInteger)
    #: ISO 4217 code, equal to the account's currency.
    currency: Mapped[str] = mapped_column(String(3))

    entry: Mapped[JournalEntry] = relationship(back_populates="lines", viewonly=True)
    account: Mapped[LedgerAccount] = relationship(viewonly=True)

    def __repr__(self) -> str:
        return f"<JournalLine {self.account_id} {self.amount} {self.currency}>"
