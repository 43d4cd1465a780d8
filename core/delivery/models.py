"""Records of the delivery process: every stage change, every sign-off, every base-data import."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantScoped

#: What an imported row became: a user, a loan (with its installments and claims), an installment's repayment.
IMPORTED_KINDS = ("user", "loan", "repayment")


class StageChange(db.Model):
    """One move of a tenant between delivery stages, with the gate's checks.

    Vendor-side records (not tenant-scoped): the vendor console lists them
    across tenants, and they must outlive a tenant's own data.
    """

    __tablename__ = "stage_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    #: Stage before the change.
    from_stage: Mapped[str] = mapped_column(String(32))
    #: Stage after the change (earlier than ``from_stage`` when sent back).
    to_stage: Mapped[str] = mapped_column(String(32))
    #: ``advance`` or ``send_back``.
    action: Mapped[str] = mapped_column(String(16))
    #: Who did it (vendor operator's name or login).
    actor: Mapped[str] = mapped_column(String(200))
    #: Why, for a send-back; empty for an advance.
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The gate's checks as run: ``[{"name", "passed", "detail"}]``.
    checks: Mapped[list] = mapped_column(JSON, default=list)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SignOff(db.Model):
    """The client's confirmation of the requirements and the demo they saw."""

    __tablename__ = "sign_off"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    #: The client's signatory, as written on the sign-off.
    signed_by: Mapped[str] = mapped_column(String(200))
    #: The vendor operator who recorded it.
    recorded_by: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of tenants/<slug>/requirements.yaml as signed.
    requirements_digest: Mapped[str] = mapped_column(String(64))
    #: lendkit version and tenant.yaml digest of the demo the client saw.
    demo_version: Mapped[str] = mapped_column(String(120))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportBatch(TenantScoped, db.Model):
    """One committed base-data import (``lendkit tenant import``): the files, what they created, who ran it.

    Tenant-owned (exported and removed with the tenant). A re-run that finds
    nothing new writes no batch.
    """

    __tablename__ = "import_batch"
    __table_args__ = (UniqueConstraint("tenant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of each file given: ``{"users": "…", "loans": "…", "repayments": "…"}``.
    digests: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The files' names as given.
    files: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Rows created per kind: ``{"user": 3, "loan": 2, "repayment": 4}``.
    created: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Rows found already imported with the same content, per kind.
    unchanged: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Opening balances posted (available + frozen of the users created), minor units.
    opening_total: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The vendor operator who ran it.
    operator: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportedRecord(TenantScoped, db.Model):
    """An external id of the client's previous system and the row it became here."""

    __tablename__ = "imported_record"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "external_id"),
        CheckConstraint("kind IN ('user', 'loan', 'repayment')", name="kind"),
        ForeignKeyConstraint(["tenant_id", "batch_id"], ["import_batch.tenant_id", "import_batch.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The import that created it.
    batch_id: Mapped[int] = mapped_column(index=True)
    #: ``user``, ``loan`` or ``repayment``.
    kind: Mapped[str] = mapped_column(String(16))
    #: The previous system's id (a repayment's is ``<loan id>#<installment number>``).
    external_id: Mapped[str] = mapped_column(String(80))
    #: What it became: user_account.id, loan.id or repayment.id.
    target_id: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the row's content as imported: the same id with other content is refused.
    digest: Mapped[str] = mapped_column(String(64))


class AcceptanceRun(db.Model):
    """One run of a tenant's acceptance suite (``lendkit tenant accept``): the loans rehearsed and how each went.

    Vendor-side like :class:`StageChange`. The ``tested`` gate passes on the
    latest run when it passed and was run on the tenant's current configuration.
    """

    __tablename__ = "acceptance_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    #: :func:`~core.delivery.stages.configuration_digest` when the suite ran: a later change of products,
    #: rules or contract templates (in tenant.yaml or the admin console) calls for a new run.
    config_digest: Mapped[str] = mapped_column(String(64))
    #: Whether every scenario passed; None while the run is running.
    passed: Mapped[bool | None] = mapped_column(Boolean)
    #: ``[{"name", "passed", "detail", "steps": [...]}]``, one per scenario.
    scenarios: Mapped[list] = mapped_column(JSON, default=list)
    #: Who ran it.
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: None while the run is running (on a worker).
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
