from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.tenancy.models import utcnow
from core.tenancy.scoping import TenantScoped

NOTICE_KINDS = ("announcement", "disclosure")


class Notice(TenantScoped, db.Model):
    """An announcement or an information disclosure shown on the tenant's site."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint("kind IN ('announcement', 'disclosure')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable name within the tenant, so seeding twice updates instead of duplicating.
    key: Mapped[str] = mapped_column(String(100))
    #: ``announcement`` (news) or ``disclosure`` (regulatory information).
    kind: Mapped[str] = mapped_column(String(20), default="announcement")
    title: Mapped[str] = mapped_column(String(200))
    #: Plain text; paragraphs separated by blank lines.
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @classmethod
    def latest(cls, limit: int | None = None) -> list[Notice]:
        query = select(cls).order_by(cls.published_at.desc(), cls.id.desc())
        if limit:
            query = query.limit(limit)
        return list(db.session.scalars(query))

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]
