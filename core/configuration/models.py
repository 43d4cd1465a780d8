from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantScoped


class ConfigVersion(TenantScoped, db.Model):
    """One saved state of one editable section of a tenant's configuration."""

    __tablename__ = "config_version"
    __table_args__ = (UniqueConstraint("tenant_id", "section", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The section: ``branding``, ``site`` (name, default locale), ``products`` or ``rules`` (credit and risk).
    section: Mapped[str] = mapped_column(String(40))
    #: 1, 2, 3… per tenant and section.
    number: Mapped[int] = mapped_column(Integer)
    #: The section's full value; null means "as in tenant.yaml".
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: Who saved it (user id and name as text, kept if the user is removed).
    actor: Mapped[str] = mapped_column(String(200))
    #: ``save``, ``rollback`` or ``reset``, with what the editor wrote.
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BrandAsset(TenantScoped, db.Model):
    """An image uploaded in the branding editor (logo), kept in the database so every app server has it."""

    __tablename__ = "brand_asset"
    __table_args__ = (UniqueConstraint("tenant_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the bytes; the file's name is ``upload/<sha256>.<ext>``.
    sha256: Mapped[str] = mapped_column(String(64))
    #: ``image/png`` or ``image/jpeg``.
    content_type: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
