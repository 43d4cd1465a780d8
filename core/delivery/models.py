"""Records of the delivery process: every stage change and every sign-off."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.tenancy.models import utcnow


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


class AcceptanceRun(db.Model):
    """One run of a tenant's acceptance suite (``lendkit tenant accept``): the loans rehearsed and how each went.

    Vendor-side like :class:`StageChange`. The ``tested`` gate passes on the
    latest run when it passed and was run on the tenant's current configuration.
    """

    __tablename__ = "acceptance_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    #: ``Tenant.config_digest`` when the suite ran: a later change of products or rules calls for a new run.
    config_digest: Mapped[str] = mapped_column(String(64))
    #: Whether every scenario passed.
    passed: Mapped[bool] = mapped_column(Boolean)
    #: ``[{"name", "passed", "detail", "steps": [...]}]``, one per scenario.
    scenarios: Mapped[list] = mapped_column(JSON, default=list)
    #: Who ran it.
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
