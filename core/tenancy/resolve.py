"""``Host`` header → tenant, for every request.

An unknown host gets 404, never a default tenant: serving one client's site
under another's name is worse than serving nothing.
"""
from __future__ import annotations

from flask import abort, current_app, g, redirect, request, url_for
from flask_babel import refresh as refresh_babel
from sqlalchemy import select

from core.extensions import db
from core.tenancy.models import Tenant, TenantHost
from core.tenancy.scoping import bind_tenant, unbind_tenant

#: Endpoints served on every host, tenant or not.
HOSTLESS_ENDPOINTS = {"health.healthz"}


def host_name(raw_host: str) -> str:
    """``Demo-CN.localhost:5000`` → ``demo-cn.localhost`` (IPv6 literals kept whole)."""
    host = raw_host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def tenant_for_host(raw_host: str) -> Tenant | None:
    return db.session.scalar(
        select(Tenant)
        .join(TenantHost)
        .where(TenantHost.host == host_name(raw_host), Tenant.active.is_(True))
    )


#: Blueprints the vendor host serves besides the console itself.
VENDOR_HOST_BLUEPRINTS = {"vendor", "assets", "locale", "health"}


def bind_request_tenant():
    """``before_request``: bind ``g.tenant`` from the Host header or answer 404.

    The vendor host serves the vendor console and nothing of any tenant; no
    tenant host serves the vendor console.
    """
    g.tenant = None
    g.vendor_host = False
    if request.endpoint in HOSTLESS_ENDPOINTS:
        return None
    blueprint = request.blueprint or ""
    if host_name(request.host) == current_app.config["LENDKIT_VENDOR_HOST"]:
        if request.path == "/":
            return redirect(url_for("vendor.tenants"))
        if blueprint not in VENDOR_HOST_BLUEPRINTS:
            abort(404)
        g.vendor_host = True
        from core.vendor.auth import load_operator

        load_operator()
        refresh_babel()
        return None
    if blueprint == "vendor":
        abort(404)
    tenant = tenant_for_host(request.host)
    if tenant is None:
        abort(404, description="No lending site is served at this address.")
    g.tenant = tenant
    g._tenant_token = bind_tenant(tenant.id)
    refresh_babel()  # the locale and time zone depend on the tenant just bound
    return None


def unbind_request_tenant(exc=None):
    """``teardown_request``: forget the tenant so nothing outlives the request."""
    token = g.pop("_tenant_token", None)
    if token is not None:
        unbind_tenant(token)
