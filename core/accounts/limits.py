"""Request rate limits (Flask-Limiter) on sign-in, code sending and registration.

Each limit counts per tenant and per client IP, or per tenant and per mobile
number (a blind index, never the number). Over a limit the answer is 429:
the API's error body, or the themed error page saying to wait.

The limits can be changed per deployment in the Flask config, e.g.
``ACCOUNTS_LIMIT_LOGIN_IP = "10/minute"``; defaults are :data:`DEFAULTS`.
The one-time code engine adds exact daily caps per number and IP on top
(``security.otp_daily_*`` in ``tenant.yaml``).
"""
from __future__ import annotations

from flask import current_app, g, request

from core.extensions import limiter

DEFAULTS = {
    "ACCOUNTS_LIMIT_LOGIN_IP": "30/minute;300/hour",
    "ACCOUNTS_LIMIT_LOGIN_MOBILE": "10/minute;60/hour",
    "ACCOUNTS_LIMIT_CODE_IP": "10/minute;60/hour",
    "ACCOUNTS_LIMIT_CODE_MOBILE": "3/minute;20/hour",
    "ACCOUNTS_LIMIT_REGISTER_IP": "10/minute;50/hour",
    "ACCOUNTS_LIMIT_REGISTER_MOBILE": "5/minute;20/hour",
}


def _value(key: str):
    return lambda: current_app.config.get(key) or DEFAULTS[key]


def _tenant() -> str:
    tenant = g.get("tenant")
    return tenant.slug if tenant is not None else "-"


def ip_key() -> str:
    return f"{_tenant()}:ip:{request.remote_addr or '-'}"


def _submitted_mobile() -> str:
    data = request.get_json(silent=True) if request.is_json else None
    if isinstance(data, dict):
        raw = data.get("mobile") or data.get("new_mobile")
    else:
        raw = request.form.get("mobile") or request.form.get("new_mobile")
    return str(raw or "")


def _valid_mobile() -> str | None:
    from core.accounts.identity import InvalidIdentity, normalize_cn_mobile

    try:
        return normalize_cn_mobile(_submitted_mobile())
    except InvalidIdentity:
        return None


def mobile_key() -> str:
    from core.accounts import crypto

    mobile, tenant = _valid_mobile(), g.get("tenant")
    if mobile is None or tenant is None:
        return f"{_tenant()}:mobile:-"  # not reached: such requests are exempt (see _only_for)
    return f"{_tenant()}:mobile:{crypto.blind_index(tenant, 'mobile', mobile)[:32]}"


def _only_for(action: str | None, per_mobile: bool = False):
    """Count only POSTs (on pages with several buttons, only actions starting with ``action``).

    A per-number limit counts only requests naming a valid number; the others
    (a TOTP step, a typo) count against the per-IP limit alone.
    """
    def exempt() -> bool:
        if request.method != "POST":
            return True
        if per_mobile and _valid_mobile() is None:
            return True
        if action is None or request.path.startswith("/api/"):
            return False
        return not (request.form.get("action") or "submit").startswith(action)
    return exempt


def login_limits(view, action: str | None = None):
    view = limiter.shared_limit(_value("ACCOUNTS_LIMIT_LOGIN_IP"), "login-ip", key_func=ip_key, exempt_when=_only_for(action))(view)
    return limiter.shared_limit(_value("ACCOUNTS_LIMIT_LOGIN_MOBILE"), "login-mobile", key_func=mobile_key, exempt_when=_only_for(action, per_mobile=True))(view)


def code_limits(view, action: str | None = "send"):
    view = limiter.shared_limit(_value("ACCOUNTS_LIMIT_CODE_IP"), "code-ip", key_func=ip_key, exempt_when=_only_for(action))(view)
    return limiter.shared_limit(_value("ACCOUNTS_LIMIT_CODE_MOBILE"), "code-mobile", key_func=mobile_key, exempt_when=_only_for(action, per_mobile=True))(view)


def register_limits(view, action: str | None = "submit"):
    """Registration and password reset: the submits that create or take over an account."""
    view = limiter.shared_limit(_value("ACCOUNTS_LIMIT_REGISTER_IP"), "register-ip", key_func=ip_key, exempt_when=_only_for(action))(view)
    return limiter.shared_limit(_value("ACCOUNTS_LIMIT_REGISTER_MOBILE"), "register-mobile", key_func=mobile_key, exempt_when=_only_for(action, per_mobile=True))(view)
