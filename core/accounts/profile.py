"""A signed-in user's own settings: passwords, transaction password, mobile number, customer roles.

:func:`verify_transaction_password` is what withdrawals and investments call
before moving money.
"""
from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l

from core.accounts.models import CUSTOMER_ROLES, User, UserRole, aware
from core.accounts.otp import check_code, send_code, use_code
from core.accounts.policy import AccountRefused, hash_password, now, password_matches, security_settings
from core.accounts.registration import already_registered, clean_mobile, clean_password
from core.accounts.signin import revoke_sessions
from core.audit import audit
from core.extensions import db


def change_password(user: User, *, current: str, new: str, confirm: str | None = None, keep_session=None) -> None:
    if not password_matches(user.password_hash, current or ""):
        raise AccountRefused("current_password", "wrong_password", _l("Your current password is not correct."))
    clean_password(new, "new_password")
    if confirm is not None and confirm != new:
        raise AccountRefused("confirm_password", "mismatch", _l("The two passwords are not the same."))
    if password_matches(user.transaction_password_hash, new):
        raise AccountRefused("new_password", "same_as_transaction",
                             _l("The login password must differ from the transaction password."))
    user.password_hash = hash_password(new)
    revoke_sessions(user, keep=keep_session)
    audit("password.changed", actor=user, target=user)
    db.session.commit()


def set_transaction_password(user: User, *, login_password: str, new: str, confirm: str | None = None) -> None:
    """Choose or change the transaction password; it must differ from the login password."""
    if not password_matches(user.password_hash, login_password or ""):
        raise AccountRefused("login_password", "wrong_password", _l("Your login password is not correct."))
    clean_password(new, "transaction_password")
    if confirm is not None and confirm != new:
        raise AccountRefused("confirm_password", "mismatch", _l("The two passwords are not the same."))
    if password_matches(user.password_hash, new):
        raise AccountRefused("transaction_password", "same_as_login",
                             _l("The transaction password must differ from your login password."))
    first = user.transaction_password_hash is None
    user.transaction_password_hash = hash_password(new)
    user.transaction_failures = 0
    user.transaction_locked_until = None
    audit("transaction_password.set" if first else "transaction_password.changed", actor=user, target=user)
    db.session.commit()


def verify_transaction_password(user: User, password: str) -> bool:
    """True when ``password`` is ``user``'s transaction password.

    For withdrawals and investments. Raises :class:`AccountRefused` when none
    is set (``transaction_password_unset``) or when too many wrong ones locked
    transactions (``transaction_locked``, the tenant's lockout rules). A wrong
    password counts and is audited; this commits.
    """
    from core.tenancy.models import Tenant

    tenant = db.session.get(Tenant, user.tenant_id)
    settings = security_settings(tenant)
    if user.transaction_password_hash is None:
        raise AccountRefused("transaction_password", "transaction_password_unset",
                             _l("Please set a transaction password first."), status=409)
    if user.transaction_locked_until is not None and aware(user.transaction_locked_until) > now():
        raise AccountRefused("transaction_password", "transaction_locked",
                             _l("Too many wrong transaction passwords: transactions are paused. Try again later."), status=423)
    if password_matches(user.transaction_password_hash, password or ""):
        if user.transaction_failures:
            user.transaction_failures = 0
            db.session.commit()
        return True
    user.transaction_failures += 1
    audit("transaction_password.failed", actor=user, target=user, details={"failures": user.transaction_failures})
    if user.transaction_failures >= settings["lockout_threshold"]:
        user.transaction_failures = 0
        user.transaction_locked_until = now() + timedelta(minutes=settings["lockout_minutes"])
        audit("transaction_password.locked", actor=user, target=user, details={"minutes": settings["lockout_minutes"]})
    db.session.commit()
    return False


def send_change_mobile_code(tenant, user: User, which: str, raw_new_mobile: str | None = None, *, ip: str):
    """``which`` is ``old`` (to the current number) or ``new`` (to the number being moved to)."""
    if which == "old":
        return send_code(tenant, user.mobile, "change_mobile_old", ip=ip, locale=user.locale)
    mobile = clean_mobile(raw_new_mobile or "", "new_mobile")
    if mobile == user.mobile:
        raise AccountRefused("new_mobile", "same_mobile", _l("This is already your mobile number."))
    if User.by_mobile(tenant, mobile) is not None:
        raise AccountRefused("new_mobile", "mobile_taken", already_registered().message, status=409)
    return send_code(tenant, mobile, "change_mobile_new", ip=ip, locale=user.locale)


def change_mobile(tenant, user: User, *, old_code: str, new_mobile: str, new_code: str) -> None:
    """Move the account to ``new_mobile``: a code sent to the old number and one sent to the new."""
    mobile = clean_mobile(new_mobile, "new_mobile")
    if mobile == user.mobile:
        raise AccountRefused("new_mobile", "same_mobile", _l("This is already your mobile number."))
    if User.by_mobile(tenant, mobile) is not None:
        raise AccountRefused("new_mobile", "mobile_taken", already_registered().message, status=409)
    old = check_code(tenant, user.mobile, "change_mobile_old", old_code, field="old_code", consume=False)
    new = check_code(tenant, mobile, "change_mobile_new", new_code, field="new_code", consume=False)
    use_code(old)
    use_code(new)
    user.set_mobile(tenant, mobile)
    audit("mobile.changed", actor=user, target=user)
    db.session.commit()


def choose_roles(user: User, roles) -> None:
    """Set which customer roles (borrower, investor) the user holds; staff roles stay."""
    wanted = set(roles or ())
    if not wanted or wanted - set(CUSTOMER_ROLES):
        raise AccountRefused("roles", "roles", _l("Choose whether you want to borrow, invest, or both."))
    held = user.role_names
    for role in user.roles[:]:
        if role.role in CUSTOMER_ROLES and role.role not in wanted:
            user.roles.remove(role)
    for role in sorted(wanted - held):
        user.roles.append(UserRole(role=role))
    audit("roles.chosen", actor=user, target=user, details={"roles": sorted(wanted)})
    db.session.commit()
