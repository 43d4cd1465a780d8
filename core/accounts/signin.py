"""Signing in and out: passwords, lockout, TOTP for staff, and session records.

* A wrong password (or TOTP code) counts against the account; after
  ``security.lockout_threshold`` failures in a row (at most 10) it is locked
  for ``security.lockout_minutes`` (at least 30). Every failure, lockout and
  success is audited.
* A session is an :class:`~core.accounts.models.AuthSession` row; the client
  holds only a random token (the browser inside Flask's session cookie, the
  API as a bearer token). Signing in makes a new one (rotation), signing out
  or changing the password revokes them, and staff sessions end after
  ``security.staff_idle_minutes`` without a request.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import pyotp
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from core.accounts import crypto
from core.accounts.identity import InvalidIdentity, mask_mobile, normalize_cn_mobile
from core.accounts.models import AuthSession, User, aware
from core.accounts.policy import (
    AccountRefused,
    burn_password_time,
    hash_password,
    needs_rehash,
    now,
    password_matches,
    security_settings,
)
from core.audit import audit
from core.extensions import db

TOTP_ISSUER_FALLBACK = "lendkit"
#: Requests within this many seconds do not rewrite ``last_seen_at``.
SEEN_GRANULARITY = 60


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def locked_refusal(user: User) -> AccountRefused:
    until = aware(user.locked_until)
    minutes = max(1, int((until - now()).total_seconds() + 59) // 60)
    return AccountRefused(None, "locked",
                          _l("Too many failed attempts: this account is locked. Try again in %(minutes)d minutes or reset your password.",
                             minutes=minutes),
                          status=423, retry_after=minutes * 60)


def record_failure(tenant, user: User, reason: str) -> None:
    """Count one failed sign-in step, lock the account at the threshold, audit; commits."""
    settings = security_settings(tenant)
    user.failed_logins += 1
    audit("login.failed", actor=None, target=user, details={"reason": reason, "failures": user.failed_logins})
    if user.failed_logins >= settings["lockout_threshold"]:
        user.locked_until = now() + timedelta(minutes=settings["lockout_minutes"])
        user.failed_logins = 0
        audit("account.locked", actor=None, target=user, details={"minutes": settings["lockout_minutes"]})
    db.session.commit()


def is_locked(user: User) -> bool:
    return user.locked_until is not None and aware(user.locked_until) > now()


def check_password_login(tenant, mobile_raw: str, password: str) -> User:
    """The user whose number and password these are; :class:`AccountRefused` otherwise."""
    wrong = AccountRefused(None, "bad_credentials", _l("The mobile number or the password is not correct."), status=401)
    try:
        mobile = normalize_cn_mobile(mobile_raw)
    except InvalidIdentity as exc:
        raise AccountRefused("mobile", exc.code, exc.message) from None
    user = User.by_mobile(tenant, mobile)
    if user is None:
        burn_password_time(password or "")
        audit("login.failed", actor=None, target=f"mobile:{mask_mobile(mobile)}", details={"reason": "unknown_mobile"})
        db.session.commit()
        raise wrong
    if is_locked(user):
        audit("login.refused_locked", actor=None, target=user)
        db.session.commit()
        raise locked_refusal(user)
    if user.status != "active":
        audit("login.refused_disabled", actor=None, target=user)
        db.session.commit()
        raise AccountRefused(None, "disabled", _l("This account is disabled. Please contact customer service."), status=403)
    if not password_matches(user.password_hash, password or ""):
        record_failure(tenant, user, "password")
        if is_locked(user):
            raise locked_refusal(user)
        raise wrong
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# ------------------------------------------------------------------ TOTP


def totp_secret(user: User) -> str | None:
    if user.totp_sealed is None:
        return None
    return crypto.open_text(user.tenant_id, "user.totp", user.totp_sealed)


def start_totp_enrolment(tenant, user: User) -> str:
    """A new secret for ``user`` (replacing an unconfirmed one); returns it."""
    secret = pyotp.random_base32()
    user.totp_sealed = crypto.seal(tenant, "user.totp", secret)
    user.totp_confirmed_at = None
    user.totp_last_step = None
    db.session.flush()
    return secret


def provisioning_uri(tenant, user: User) -> str:
    return pyotp.TOTP(totp_secret(user)).provisioning_uri(
        name=user.masked_mobile, issuer_name=tenant.name or TOTP_ISSUER_FALLBACK
    )


def check_totp(tenant, user: User, code: str, *, confirming: bool = False) -> None:
    """Accept a current TOTP code once (±1 step); a wrong one counts as a failed sign-in."""
    secret = totp_secret(user)
    if secret is None:
        raise AccountRefused("totp", "totp_not_enrolled", _l("Two-factor sign-in is not set up for this account."), status=403)
    code = "".join((code or "").split())
    totp = pyotp.TOTP(secret)
    moment = now()
    current = totp.timecode(moment)
    accepted = None
    if len(code) == 6 and code.isdigit():
        for step in (current - 1, current, current + 1):
            if secrets.compare_digest(totp.generate_otp(step), code):
                accepted = step
                break
    if accepted is None or (user.totp_last_step is not None and accepted <= user.totp_last_step):
        record_failure(tenant, user, "totp")
        if is_locked(user):
            raise locked_refusal(user)
        raise AccountRefused("totp", "totp_wrong", _l("The authenticator code is not correct or was already used."), status=401)
    user.totp_last_step = accepted
    if confirming:
        user.totp_confirmed_at = moment
        audit("staff.totp_enrolled", actor=user, target=user)


# ------------------------------------------------------------------ sessions


def open_session(tenant, user: User, *, kind: str, second_factor: bool, ip: str = "") -> str:
    """Record a successful sign-in and open a session; returns its token (give it to the client only)."""
    settings = security_settings(tenant)
    token = secrets.token_urlsafe(32)
    moment = now()
    lifetime = timedelta(hours=settings["session_hours"])
    auth = AuthSession(
        user_id=user.id, kind=kind, token_hash=_token_hash(token), second_factor=second_factor,
        created_at=moment, last_seen_at=moment, expires_at=moment + lifetime, ip=(ip or "")[:45],
    )
    db.session.add(auth)
    user.auth_session = auth
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = moment
    audit("login.succeeded", actor=user, target=user, details={"kind": kind, "staff": user.is_staff, "second_factor": second_factor})
    db.session.commit()
    return token


def session_for_token(tenant, token: str | None, kind: str) -> AuthSession | None:
    """The live session with this token, or None (unknown, revoked, expired, idle staff session).

    The session, its user and the user's roles come in ONE query: every API request asks.
    """
    if not token:
        return None
    session = db.session.scalars(
        select(AuthSession).where(AuthSession.token_hash == _token_hash(token), AuthSession.kind == kind)
        .options(joinedload(AuthSession.user).joinedload(User.roles))
    ).unique().first()
    if session is None or session.revoked_at is not None:
        return None
    moment = now()
    if aware(session.expires_at) <= moment or session.user.status != "active":
        session.revoked_at = moment
        db.session.commit()
        return None
    if session.user.is_staff:
        idle = timedelta(minutes=security_settings(tenant)["staff_idle_minutes"])
        if moment - aware(session.last_seen_at) > idle:
            session.revoked_at = moment
            audit("session.idle_expired", actor=session.user, target=session.user, details={"kind": kind})
            db.session.commit()
            return None
    if (moment - aware(session.last_seen_at)).total_seconds() >= SEEN_GRANULARITY:
        session.last_seen_at = moment
        db.session.commit()
    return session


def close_session(session: AuthSession) -> None:
    session.revoked_at = now()
    audit("logout", actor=session.user, target=session.user, details={"kind": session.kind})
    db.session.commit()


def revoke_sessions(user: User, keep: AuthSession | None = None) -> int:
    """Revoke every live session of ``user`` except ``keep`` (in the caller's transaction)."""
    query = update(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(AuthSession.id != keep.id)
    return db.session.execute(query.values(revoked_at=now())).rowcount
