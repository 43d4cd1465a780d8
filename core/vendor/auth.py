"""Operator sign-in: password (argon2id) and a TOTP code, with lockout."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import wraps

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from flask import g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l

from core.extensions import db
from core.vendor.models import VendorOperator

hasher = PasswordHasher()
MAX_FAILURES = 5
LOCK_MINUTES = 30
IDLE_MINUTES = 30
#: Verifies a wrong password too, so timing does not tell whether a login exists.
_DUMMY_HASH = hasher.hash("lendkit-dummy-password")


class SignInRefused(Exception):
    """Sign-in refused; the message is safe to show (it never says which factor failed)."""


def create_operator(login: str, name: str, password: str) -> tuple[VendorOperator, str]:
    """Create an operator; returns it with the TOTP provisioning URI for their app."""
    from core.accounts.identity import password_problems

    login = login.strip().lower()
    if not login or not login.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError("login must be letters, digits, '.', '-' or '_'")
    problems = [str(p) for p in password_problems(password, min_length=12)]
    if problems:
        raise ValueError("password: " + " ".join(problems))
    if VendorOperator.by_login(login) is not None:
        raise ValueError(f"operator {login!r} already exists")
    secret = pyotp.random_base32()
    operator = VendorOperator(login=login, name=name.strip() or login, password_hash=hasher.hash(password), totp_secret=secret)
    db.session.add(operator)
    db.session.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name="lendkit vendor console")
    return operator, uri


def sign_in(login: str, password: str, code: str, now: datetime | None = None) -> VendorOperator:
    now = now or datetime.now(timezone.utc)
    operator = VendorOperator.by_login(login or "")
    if operator is None or not operator.active:
        try:
            hasher.verify(_DUMMY_HASH, password or "")
        except VerificationError:
            pass
        raise SignInRefused(_l("Wrong login, password or code."))
    locked = operator.locked_until
    if locked is not None and locked.tzinfo is None:
        locked = locked.replace(tzinfo=timezone.utc)
    if locked is not None and locked > now:
        raise SignInRefused(_l("Too many failed attempts; try again after %(time)s UTC.", time=f"{locked:%H:%M}"))
    ok = True
    try:
        hasher.verify(operator.password_hash, password or "")
    except VerificationError:
        ok = False
    totp = pyotp.TOTP(operator.totp_secret)
    step = totp.timecode(now)
    accepted_step = None
    for candidate in (step, step - 1):  # this and the previous 30-second window
        if candidate > operator.last_totp_step and pyotp.utils.strings_equal(totp.generate_otp(candidate), (code or "").strip()):
            accepted_step = candidate
            break
    if not ok or accepted_step is None:
        operator.failed_logins += 1
        if operator.failed_logins >= MAX_FAILURES:
            operator.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            operator.failed_logins = 0
        db.session.commit()
        raise SignInRefused(_l("Wrong login, password or code."))
    operator.failed_logins = 0
    operator.locked_until = None
    operator.last_totp_step = accepted_step
    operator.last_login_at = now
    db.session.commit()
    session.clear()  # a new session at sign-in
    session["vendor_operator_id"] = operator.id
    session["vendor_seen"] = now.timestamp()
    return operator


def load_operator() -> None:
    """``before_request`` on the vendor host: ``g.operator`` from the session, idle sessions ended."""
    g.operator = None
    operator_id = session.get("vendor_operator_id")
    if operator_id is None:
        return
    now = datetime.now(timezone.utc).timestamp()
    if now - session.get("vendor_seen", 0) > IDLE_MINUTES * 60:
        session.clear()
        return
    operator = db.session.get(VendorOperator, operator_id)
    if operator is None or not operator.active:
        session.clear()
        return
    session["vendor_seen"] = now
    g.operator = operator


def operator_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("operator") is None:
            return redirect(url_for("vendor.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped
