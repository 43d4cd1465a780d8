"""The audit log's tables: append-only records chained per tenant, and the chain's head."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantScoped, TenantSession


class AuditRecord(TenantScoped, db.Model):
    """One staff action or security event. Never updated or deleted (see :mod:`core.audit`)."""

    __tablename__ = "audit_record"
    __table_args__ = (UniqueConstraint("tenant_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Position in the tenant's chain: 1, 2, 3… without gaps.
    seq: Mapped[int] = mapped_column(Integer)
    #: When it happened (UTC).
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: What happened, dotted: ``login.failed``, ``kyc.approved``, ``pii.viewed``…
    event: Mapped[str] = mapped_column(String(64), index=True)
    #: The user who acted, when one did (kept as a number: the log outlives accounts).
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    #: Who acted, as text: ``user:12``, ``cli``, ``system`` or ``anonymous``.
    actor: Mapped[str] = mapped_column(String(120))
    #: What it was done to: ``user:7``, ``kyc:3``, ``mobile:138****5678``…
    target: Mapped[str] = mapped_column(String(200), default="")
    #: Canonical JSON of the details; never holds unmasked personal data.
    details: Mapped[str] = mapped_column(Text, default="{}")
    #: The client's address for events caused by a request.
    ip: Mapped[str] = mapped_column(String(45), default="")
    #: ``hash`` of record ``seq - 1`` (64 zeros for the first record).
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: HMAC-SHA256 (the tenant's audit key) over this record's fields and ``prev_hash``.
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(TenantScoped, db.Model):
    """The newest record of a tenant's chain: the row appends lock, and what tells a removed tail."""

    __tablename__ = "audit_head"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``seq`` of the newest record.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    #: ``hash`` of the newest record.
    hash: Mapped[str] = mapped_column(String(64))


class AuditIsAppendOnly(RuntimeError):
    """Something tried to change or delete an audit record through the ORM."""


@event.listens_for(TenantSession, "before_flush")
def _refuse_changes(session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditRecord) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditIsAppendOnly("audit records are append-only")
