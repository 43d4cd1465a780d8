"""Tenant staff: creating the first admin, granting and revoking staff roles."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.accounts.models import STAFF_ROLES, User, UserRole
from core.accounts.policy import AccountRefused, hash_password, now
from core.accounts.registration import clean_mobile, clean_password
from core.accounts.signin import revoke_sessions
from core.audit import audit
from core.extensions import db


def create_staff(tenant, *, mobile: str, roles, password: str | None, actor="cli") -> tuple[User, bool]:
    """Make ``mobile`` a staff member holding ``roles``; returns ``(user, created)``.

    An existing account keeps its password (``password`` may then be None)
    and gains the roles; a new one needs a password meeting the policy.
    """
    mobile = clean_mobile(mobile)
    roles = list(dict.fromkeys(roles))
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if not roles or unknown:
        raise AccountRefused("role", "role", f"roles must be among {', '.join(STAFF_ROLES)}")
    user = User.by_mobile(tenant, mobile)
    created = user is None
    if created:
        if password is None:
            raise AccountRefused("password", "password_required", "a new staff account needs a password")
        clean_password(password)
        user = User(kind="person", password_hash=hash_password(password), locale=tenant.default_locale, terms_accepted_at=now())
        user.set_mobile(tenant, mobile)
        db.session.add(user)
        db.session.flush()
        audit("staff.created", actor=actor, target=user)
    for role in roles:
        if role not in user.role_names:
            user.roles.append(UserRole(role=role))
            audit("role.granted", actor=actor, target=user, details={"role": role})
    db.session.flush()
    return user, created


def _admins() -> int:
    return len(db.session.scalars(select(UserRole.id).where(UserRole.role == "tenant_admin")).all())


def set_staff_roles(actor: User, user: User, roles) -> None:
    """Make ``user``'s staff roles exactly ``roles`` (tenant admins only); audited per change."""
    wanted = set(roles or ())
    unknown = wanted - set(STAFF_ROLES)
    if unknown:
        raise AccountRefused("roles", "role", _l("Unknown role."))
    held = user.role_names & set(STAFF_ROLES)
    if "tenant_admin" in held and "tenant_admin" not in wanted and _admins() <= 1:
        raise AccountRefused("roles", "last_admin", _l("The site needs at least one tenant administrator."), status=409)
    for role in user.roles[:]:
        if role.role in STAFF_ROLES and role.role not in wanted:
            user.roles.remove(role)
            audit("role.revoked", actor=actor, target=user, details={"role": role.role})
    for role in sorted(wanted - held):
        user.roles.append(UserRole(role=role, granted_by=actor.id))
        audit("role.granted", actor=actor, target=user, details={"role": role})
    if held != wanted:
        revoke_sessions(user)  # the new roles take effect at the next sign-in (with TOTP if staff)
    db.session.commit()


def unlock_account(actor: User, user: User) -> None:
    """Lift a sign-in lockout early (support); audited."""
    user.locked_until = None
    user.failed_logins = 0
    audit("account.unlocked", actor=actor, target=user)
    db.session.commit()


def reset_two_factor(actor: User, user: User) -> None:
    """Forget ``user``'s authenticator (tenant admins): they enrol again at the next sign-in; audited."""
    user.totp_sealed = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    revoke_sessions(user)
    audit("staff.totp_reset", actor=actor, target=user)
    db.session.commit()
