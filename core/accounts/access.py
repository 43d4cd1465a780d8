"""Who is asking, and may they: sessions for pages, bearer tokens for the API, permission checks.

Every view is marked one way or the other:

* ``@public`` — anyone may call it (sign-in, registration, legal pages);
* ``@requires()`` — any signed-in user;
* ``@requires("kyc.review", …)`` — a user holding every named permission
  (:mod:`core.accounts.roles`); staff permissions also need a session that
  passed the TOTP step.

Pages read the session (Flask-Login); the API reads only
``Authorization: Bearer <token>`` — never the session cookie — so it is
exempt from CSRF. Unauthenticated: pages redirect to the sign-in page, the API
answers 401. Not permitted: 403. ``tests/accounts/test_permissions.py``
walks every registered endpoint and fails on one that is neither marked
public nor protected.
"""
from __future__ import annotations

from functools import wraps

from flask import abort as flask_abort
from flask import flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, logout_user

from core.accounts.roles import PERMISSIONS

login_manager = LoginManager()
login_manager.session_protection = "basic"
login_manager.login_view = "accounts.login"

ACCESS_ATTR = "_lendkit_access"


@login_manager.user_loader
def _load_user(token: str):
    from core.accounts.signin import session_for_token

    tenant = g.get("tenant")
    if tenant is None or session.get("tenant_id") != tenant.id:
        return None
    auth = session_for_token(tenant, token, "web")
    if auth is None:
        g.session_ended = True
        return None
    user = auth.user
    user.auth_session = auth
    user._session_token = token
    return user


def _is_api() -> bool:
    return request.path.startswith("/api/")


def api_user():
    """The user of the bearer token on this API request, or None."""
    if "api_user" in g:
        return g.api_user
    from core.accounts.signin import session_for_token

    g.api_user = None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    tenant = g.get("tenant")
    if scheme.lower() == "bearer" and token.strip() and tenant is not None:
        auth = session_for_token(tenant, token.strip(), "api")
        if auth is not None:
            user = auth.user
            user.auth_session = auth
            g.api_user = user
    return g.api_user


def current_principal():
    """The signed-in user of this request: by bearer token on the API, by session on pages."""
    if _is_api():
        return api_user()
    return current_user if current_user.is_authenticated else None


def _deny_api(status: int, message):
    from flask_smorest import abort

    abort(status, message=str(message))


def _staff_ok(user) -> bool:
    auth = getattr(user, "auth_session", None)
    return bool(auth is not None and auth.second_factor)


def check_access(permissions: tuple[str, ...]):
    """Refuse the request unless the caller holds ``permissions``; returns the user."""
    user = current_principal()
    if user is None:
        if _is_api():
            _deny_api(401, _l("Sign in first: send the token from POST /api/v1/auth/tokens as a bearer token."))
        if g.pop("session_ended", False):
            flash(_l("You were signed out. Please sign in again."), "warning")
        return redirect(url_for("accounts.login", next=request.full_path if request.method == "GET" else None))
    staff_needed = any(PERMISSIONS[p].staff for p in permissions)
    if staff_needed and user.is_staff and not _staff_ok(user):
        if _is_api():
            _deny_api(403, _l("This needs a staff token issued with a two-factor code."))
        return redirect(url_for("accounts.two_factor", next=request.full_path if request.method == "GET" else None))
    missing = [p for p in permissions if not user.can(p)]
    if missing:
        if _is_api():
            _deny_api(403, _l("Your account is not allowed to do this."))
        flask_abort(403)
    return None


def requires(*permissions: str):
    """Allow signed-in users holding every permission in ``permissions`` (none: any signed-in user)."""
    for name in permissions:
        if name not in PERMISSIONS:
            raise KeyError(f"no permission named {name!r}")

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            refused = check_access(permissions)
            if refused is not None:
                return refused
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, ("requires", permissions))
        return wrapper

    return decorate


def public(view):
    """Mark ``view`` as open to anyone (checked by the endpoint walk test)."""
    setattr(view, ACCESS_ATTR, ("public", ()))
    return view


def access_of(view) -> tuple[str, tuple] | None:
    """How a view function (or every method of a MethodView) is marked."""
    return getattr(view, ACCESS_ATTR, None)


def sign_out_browser() -> None:
    locale = session.get("locale")
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale
