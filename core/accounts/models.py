"""Accounts: users and their roles, sessions, one-time codes, KYC and bank cards.

Personal data never sits in a column as plain text: ``*_sealed`` columns hold
AES-GCM ciphertext (:mod:`core.accounts.crypto`), ``*_index`` columns a blind
index for equality look-ups. Properties decrypt on access; pages and the API
show them masked (:mod:`core.accounts.identity`) unless the viewer's role
needs them whole, and such a view is audited.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.accounts import crypto
from core.accounts.identity import mask_bank_card, mask_id_number, mask_mobile, mask_name, mask_uscc
from core.extensions import db
from core.tenancy.models import aware, utcnow  # noqa: F401  (aware: imported from here by accounts modules)
from core.tenancy.scoping import TenantScoped

#: What an end user may be; one person may be both.
CUSTOMER_ROLES = ("borrower", "investor")
#: The tenant's staff roles (vendor operators are not tenant users).
STAFF_ROLES = ("tenant_admin", "reviewer", "risk_officer", "finance", "support")
ROLES = CUSTOMER_ROLES + STAFF_ROLES
USER_KINDS = ("person", "enterprise")
USER_STATUSES = ("active", "disabled")
OTP_PURPOSES = ("register", "login", "reset_password", "change_mobile_old", "change_mobile_new")
OTP_STATUSES = ("active", "used", "superseded", "burned")
KYC_KINDS = ("person", "enterprise")
KYC_STATUSES = ("pending", "approved", "rejected")
#: Allowed KYC status changes: a reviewer decides each pending application once.
KYC_TRANSITIONS = {"pending": ("approved", "rejected"), "approved": (), "rejected": ()}
DOCUMENT_KINDS = ("id_front", "id_back", "id_holding", "business_licence")
CARD_STATUSES = ("pending", "active", "failed")
SESSION_KINDS = ("web", "api")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(TenantScoped, db.Model):
    """Someone with an account at one tenant: a customer, a staff member, or both."""

    __tablename__ = "user_account"
    __table_args__ = (
        UniqueConstraint("tenant_id", "mobile_index"),
        CheckConstraint(_in("kind", USER_KINDS), name="kind"),
        CheckConstraint(_in("status", USER_STATUSES), name="status"),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``person`` or ``enterprise``: which KYC the account goes through.
    kind: Mapped[str] = mapped_column(String(16), default="person")
    #: ``active``, or ``disabled`` by staff (cannot sign in).
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: The mobile number (11 digits), AES-GCM sealed.
    mobile_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: Blind index of the mobile number: the sign-in look-up.
    mobile_index: Mapped[str] = mapped_column(String(64))
    #: argon2id hash of the login password.
    password_hash: Mapped[str] = mapped_column(String(255))
    #: argon2id hash of the transaction password (withdrawals, investments); unset until chosen.
    transaction_password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: Wrong transaction passwords in a row.
    transaction_failures: Mapped[int] = mapped_column(Integer, default=0)
    #: Transactions refused until then after too many wrong transaction passwords.
    transaction_locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The locale SMS texts go out in (``en``, ``zh_CN``).
    locale: Mapped[str] = mapped_column(String(16), default="en")
    #: Failed sign-ins in a row since the last success or lockout.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    #: Sign-in refused until then.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: TOTP secret (base32) for staff two-factor sign-in, sealed; None until enrolled.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: When the TOTP enrolment was confirmed with a first code.
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Time step of the last TOTP code accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: When the tenant's terms and privacy policy were accepted.
    terms_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="save-update, merge, refresh-expire, delete, delete-orphan", lazy="selectin")  # no expunge cascade: tenant_context expunges row by row

    # Flask-Login: the session stores the auth session's token, not the user id.
    is_active = True
    is_anonymous = False
    is_authenticated = True
    #: The :class:`AuthSession` this request is signed in with (set by the loader).
    auth_session = None
    _session_token = None

    def get_id(self) -> str | None:
        return self._session_token

    @property
    def audit_label(self) -> str:
        return f"user:{self.id}"

    @property
    def mobile(self) -> str:
        return crypto.open_text(self.tenant_id, "user.mobile", self.mobile_sealed)

    def set_mobile(self, tenant, mobile: str) -> None:
        self.mobile_sealed = crypto.seal(tenant, "user.mobile", mobile)
        self.mobile_index = crypto.blind_index(tenant, "mobile", mobile)

    @property
    def masked_mobile(self) -> str:
        return mask_mobile(self.mobile)

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    @property
    def is_staff(self) -> bool:
        return bool(self.role_names & set(STAFF_ROLES))

    def has_role(self, role: str) -> bool:
        return role in self.role_names

    def can(self, permission: str) -> bool:
        from core.accounts.roles import role_has

        return any(role_has(role, permission) for role in self.role_names)

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_confirmed_at is not None

    @classmethod
    def by_mobile(cls, tenant, mobile: str) -> User | None:
        return db.session.scalar(select(cls).where(cls.mobile_index == crypto.blind_index(tenant, "mobile", mobile)))

    def __repr__(self) -> str:
        return f"<User {self.id}>"


class UserRole(TenantScoped, db.Model):
    """One role a user holds: ``borrower``, ``investor`` or a staff role."""

    __tablename__ = "user_role"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "role"),
        CheckConstraint(_in("role", ROLES), name="role"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user_account.tenant_id", "user_account.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    #: One of :data:`ROLES`.
    role: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The staff user who granted it; None for self-chosen customer roles and the CLI.
    granted_by: Mapped[int | None] = mapped_column(Integer, nullable=True)

    user: Mapped[User] = relationship(back_populates="roles")


class AuthSession(TenantScoped, db.Model):
    """A signed-in session: a browser's (token in the session cookie) or an API bearer token."""

    __tablename__ = "auth_session"
    __table_args__ = (
        UniqueConstraint("token_hash"),
        CheckConstraint(_in("kind", SESSION_KINDS), name="kind"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user_account.tenant_id", "user_account.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    #: ``web`` (cookie) or ``api`` (bearer token).
    kind: Mapped[str] = mapped_column(String(8))
    #: SHA-256 of the token; the token itself is only ever with the client.
    token_hash: Mapped[str] = mapped_column(String(64))
    #: True once a staff member passed the TOTP step in this session.
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Last request seen (kept to the minute): staff sessions end when idle.
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Hard end of the session.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Set at sign-out, password change or expiry.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ip: Mapped[str] = mapped_column(String(45), default="")

    user: Mapped[User] = relationship()


class OtpCode(TenantScoped, db.Model):
    """A one-time code sent by SMS: hashed, single use, bound to a number and a purpose."""

    __tablename__ = "otp_code"
    __table_args__ = (
        CheckConstraint(_in("purpose", OTP_PURPOSES), name="purpose"),
        CheckConstraint(_in("status", OTP_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Blind index of the mobile number it was sent to.
    mobile_index: Mapped[str] = mapped_column(String(64), index=True)
    #: What the code may be used for: one of :data:`OTP_PURPOSES`.
    purpose: Mapped[str] = mapped_column(String(32))
    #: Random salt mixed into ``code_hash``.
    salt: Mapped[str] = mapped_column(String(32))
    #: HMAC of salt, purpose, number and code under the tenant's OTP key.
    code_hash: Mapped[str] = mapped_column(String(64))
    #: ``active``; ``used``; ``superseded`` by a newer code; ``burned`` by too many wrong tries.
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: Wrong and right tries so far.
    tries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Address the request for the code came from (daily cap per IP).
    ip: Mapped[str] = mapped_column(String(45), default="", index=True)
    #: The gateway's message id, for support.
    message_id: Mapped[str] = mapped_column(String(100), default="")


class KycApplication(TenantScoped, db.Model):
    """A request to verify a person's or an enterprise's identity, reviewed by staff."""

    __tablename__ = "kyc_application"
    __table_args__ = (
        CheckConstraint(_in("kind", KYC_KINDS), name="kind"),
        CheckConstraint(_in("status", KYC_STATUSES), name="status"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user_account.tenant_id", "user_account.id"],
                             ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    #: ``person`` or ``enterprise``.
    kind: Mapped[str] = mapped_column(String(16))
    #: ``pending`` review, ``approved`` or ``rejected`` (see :data:`KYC_TRANSITIONS`).
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    #: Person: real name; enterprise: the legal representative's name. Sealed.
    name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: Person: resident identity number, sealed; None for enterprises.
    id_number_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: Blind index of the identity number (one person, one account).
    id_number_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    #: Enterprise: registered company name.
    company_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Enterprise: unified social credit code, sealed.
    uscc_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: Blind index of the credit code (one company, one account).
    uscc_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    #: The credit bureau's identity check: ``matched``, or ``not_checked`` for enterprises.
    bureau_result: Mapped[str] = mapped_column(String(32), default="not_checked")
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The staff user who decided.
    reviewer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Why it was rejected, shown to the applicant.
    reject_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    user: Mapped[User] = relationship()
    documents: Mapped[list[KycDocument]] = relationship(
        back_populates="application", cascade="save-update, merge, refresh-expire, delete, delete-orphan", order_by="KycDocument.id"
    )

    @property
    def audit_label(self) -> str:
        return f"kyc:{self.id}"

    @property
    def name(self) -> str:
        return crypto.open_text(self.tenant_id, "kyc.name", self.name_sealed)

    @property
    def id_number(self) -> str:
        return crypto.open_text(self.tenant_id, "kyc.id_number", self.id_number_sealed)

    @property
    def uscc(self) -> str:
        return crypto.open_text(self.tenant_id, "kyc.uscc", self.uscc_sealed)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_uscc(self) -> str:
        return mask_uscc(self.uscc)

    def document(self, kind: str) -> KycDocument | None:
        return next((d for d in self.documents if d.kind == kind), None)


class KycDocument(TenantScoped, db.Model):
    """An uploaded image (ID card side, business licence), stored encrypted under the instance folder."""

    __tablename__ = "kyc_document"
    __table_args__ = (
        CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind"),
        ForeignKeyConstraint(["tenant_id", "application_id"], ["kyc_application.tenant_id", "kyc_application.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(index=True)
    #: ``id_front``, ``id_back``, ``id_holding`` or ``business_licence``.
    kind: Mapped[str] = mapped_column(String(32))
    #: ``image/jpeg`` or ``image/png``, from the file's first bytes.
    content_type: Mapped[str] = mapped_column(String(32))
    #: Size of the image in bytes (before encryption).
    size: Mapped[int] = mapped_column(Integer)
    #: Random file name under ``instance/kyc/<tenant>/``.
    storage_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    application: Mapped[KycApplication] = relationship(back_populates="documents")


class BankCard(TenantScoped, db.Model):
    """A bank card bound to a user; binding opens the user's custody sub-account."""

    __tablename__ = "bank_card"
    __table_args__ = (
        UniqueConstraint("tenant_id", "card_index"),
        CheckConstraint(_in("status", CARD_STATUSES), name="status"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["user_account.tenant_id", "user_account.id"],
                             ondelete="CASCADE"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    #: The card number (12-19 digits), sealed.
    card_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: Blind index of the card number (one card, one account).
    card_index: Mapped[str] = mapped_column(String(64))
    #: The issuing bank as the user named it.
    bank_name: Mapped[str] = mapped_column(String(100), default="")
    #: ``pending`` until the custody sub-account is open, then ``active``; ``failed`` if the bank refused.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: Why the custody bank refused, shown to the user.
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship()

    @property
    def audit_label(self) -> str:
        return f"bank_card:{self.id}"

    @property
    def number(self) -> str:
        return crypto.open_text(self.tenant_id, "bank_card.number", self.card_sealed)

    @property
    def masked_number(self) -> str:
        return mask_bank_card(self.number)


# The audit log's tables live in core.audit; importing them here keeps core/models.py to one line per domain.
from core.audit.models import AuditHead, AuditRecord  # noqa: E402,F401
