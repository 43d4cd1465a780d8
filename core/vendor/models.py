from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.tenancy.models import utcnow


class VendorOperator(db.Model):
    """A person of the vendor who onboards and operates tenants. Not tenant-scoped: acts across tenants."""

    __tablename__ = "vendor_operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Sign-in name, unique.
    login: Mapped[str] = mapped_column(String(64), unique=True)
    #: Full name, recorded on stage changes and sign-offs.
    name: Mapped[str] = mapped_column(String(200))
    #: argon2id hash of the password.
    password_hash: Mapped[str] = mapped_column(String(200))
    #: Base32 TOTP secret of the operator's authenticator app.
    totp_secret: Mapped[str] = mapped_column(String(64))
    #: The last TOTP time step accepted, so a code is never accepted twice.
    last_totp_step: Mapped[int] = mapped_column(Integer, default=0)
    #: Failed sign-ins in a row; reset by a success.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    #: Until when sign-in is refused after too many failures.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @classmethod
    def by_login(cls, login: str) -> VendorOperator | None:
        return db.session.scalar(select(cls).where(cls.login == login.strip().lower()))
