"""Opening an account and getting back into one: registration and password reset by SMS code."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from core.accounts.identity import InvalidIdentity, check_password, normalize_cn_mobile
from core.accounts.models import CUSTOMER_ROLES, USER_KINDS, User, UserRole
from core.accounts.otp import check_code, send_code
from core.accounts.policy import AccountRefused, hash_password, now, password_matches
from core.accounts.signin import revoke_sessions
from core.audit import audit
from core.extensions import db


def clean_mobile(raw: str, field: str = "mobile") -> str:
    try:
        return normalize_cn_mobile(raw)
    except InvalidIdentity as exc:
        raise AccountRefused(field, exc.code, exc.message) from None


def clean_password(password: str, field: str = "password") -> str:
    try:
        check_password(password or "")
    except InvalidIdentity as exc:
        raise AccountRefused(field, exc.code, exc.message) from None
    return password


def already_registered() -> AccountRefused:
    return AccountRefused("mobile", "mobile_taken",
                          _l("This mobile number is already registered. Sign in, or reset your password if you forgot it."),
                          status=409)


def send_register_code(tenant, raw_mobile: str, *, ip: str, locale: str):
    mobile = clean_mobile(raw_mobile)
    if User.by_mobile(tenant, mobile) is not None:
        raise already_registered()
    return send_code(tenant, mobile, "register", ip=ip, locale=locale)


def not_registered(field: str = "mobile") -> AccountRefused:
    return AccountRefused(field, "mobile_unknown", _l("No account uses this mobile number. Check it, or register."), status=404)


def send_reset_code(tenant, raw_mobile: str, *, ip: str, locale: str):
    mobile = clean_mobile(raw_mobile)
    user = User.by_mobile(tenant, mobile)
    if user is None:
        raise not_registered()
    return send_code(tenant, mobile, "reset_password", ip=ip, locale=user.locale or locale)


def register(tenant, *, mobile: str, code: str, password: str, password_confirm: str | None = None,
             kind: str = "person", roles=("investor",), accept_terms: bool, locale: str) -> User:
    """Create a user after checking every input; the SMS code is checked last, then used up."""
    mobile = clean_mobile(mobile)
    if kind not in USER_KINDS:
        raise AccountRefused("kind", "kind", _l("Choose a personal or an enterprise account."))
    roles = tuple(dict.fromkeys(roles or ()))
    if not roles or any(r not in CUSTOMER_ROLES for r in roles):
        raise AccountRefused("roles", "roles", _l("Choose whether you want to borrow, invest, or both."))
    clean_password(password)
    if password_confirm is not None and password_confirm != password:
        raise AccountRefused("password_confirm", "mismatch", _l("The two passwords are not the same."))
    if not accept_terms:
        raise AccountRefused("accept_terms", "terms", _l("Please read and accept the terms of service and the privacy policy."))
    if User.by_mobile(tenant, mobile) is not None:
        raise already_registered()
    check_code(tenant, mobile, "register", code)
    user = User(kind=kind, password_hash=hash_password(password), locale=locale, terms_accepted_at=now())
    user.set_mobile(tenant, mobile)
    user.roles = [UserRole(role=role) for role in roles]
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise already_registered() from None
    audit("user.registered", actor=user, target=user, details={"kind": kind, "roles": list(roles)})
    db.session.commit()
    return user


def reset_password(tenant, *, mobile: str, code: str, password: str, password_confirm: str | None = None) -> User:
    """Set a new password with a ``reset_password`` code; unlocks and signs out everywhere."""
    mobile = clean_mobile(mobile)
    clean_password(password)
    if password_confirm is not None and password_confirm != password:
        raise AccountRefused("password_confirm", "mismatch", _l("The two passwords are not the same."))
    user = User.by_mobile(tenant, mobile)
    if user is None:
        raise not_registered()
    if password_matches(user.transaction_password_hash, password):
        raise AccountRefused("password", "same_as_transaction",
                             _l("The login password must differ from the transaction password."))
    check_code(tenant, mobile, "reset_password", code)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    revoke_sessions(user)
    audit("password.reset", actor=user, target=user)
    db.session.commit()
    return user
