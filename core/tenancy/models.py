"""The tenant: one client of the vendor, with its own site, rules and providers."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: read them as UTC (every stored one is)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Tenant(db.Model):
    """A client's lending site. Not tenant-scoped itself: it *is* the scope."""

    __tablename__ = "tenant"

    #: Surrogate key; every tenant-owned row refers to it as ``tenant_id``.
    id: Mapped[int] = mapped_column(primary_key=True)
    #: URL-safe name, equal to the folder name under ``tenants/``.
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    #: The brand name shown on the site.
    name: Mapped[str] = mapped_column(String(200))
    #: ``en`` or ``zh_CN``: the locale a visitor gets before choosing one.
    default_locale: Mapped[str] = mapped_column(String(16))
    #: ISO 4217 code of the currency all of the tenant's money is in.
    currency: Mapped[str] = mapped_column(String(3))
    #: Theme name under ``themes/``.
    theme: Mapped[str] = mapped_column(String(63))
    #: The configuration in force: ``file_config`` with the admin console's saved versions on top.
    config: Mapped[dict] = mapped_column(JSON)
    #: The validated ``tenant.yaml`` as last loaded (plain JSON values).
    file_config: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: SHA-256 of the ``tenant.yaml`` bytes last loaded, to tell a change.
    config_digest: Mapped[str] = mapped_column(String(64))
    #: Delivery stage, from ``requirements`` to ``operating``.
    stage: Mapped[str] = mapped_column(String(32), default="requirements")
    #: False while the tenant is being removed; its hosts then answer 404.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    hosts: Mapped[list[TenantHost]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", order_by="TenantHost.host"
    )

    @property
    def branding(self) -> dict:
        return self.config.get("branding", {})

    @property
    def locales(self) -> list[str]:
        return self.config.get("locales") or [self.default_locale]

    @property
    def primary_host(self) -> str | None:
        for host in self.hosts:
            if host.is_primary:
                return host.host
        return self.hosts[0].host if self.hosts else None

    @classmethod
    def by_slug(cls, slug: str) -> Tenant | None:
        return db.session.scalar(select(cls).where(cls.slug == slug))

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"


class TenantHost(db.Model):
    """A host name (without port) that serves a tenant's site."""

    __tablename__ = "tenant_host"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-case host name, unique across the whole deployment.
    host: Mapped[str] = mapped_column(String(253), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    #: The host used when lendkit writes a link to the tenant's site.
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    tenant: Mapped[Tenant] = relationship(back_populates="hosts")


def _keep_tenant_rows() -> None:
    """A request reads its tenant's row (products, providers, texts: JSON) many times and commits several
    short transactions; the row is not read again after each commit unless the transaction changed it."""
    from core.kept import keep_unchanged

    keep_unchanged(Tenant)


_keep_tenant_rows()
