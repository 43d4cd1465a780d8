"""How a request becomes a tenant, and how every query stays inside it.

* :mod:`core.tenancy.scoping` — the automatic ``tenant_id`` filter and stamp.
* :mod:`core.tenancy.models` — ``Tenant`` and its ``TenantHost`` names.
* :mod:`core.tenancy.config` — the ``tenant.yaml`` schema.
* :mod:`core.tenancy.sync` — loading ``tenants/*/tenant.yaml`` into the database.
* :mod:`core.tenancy.resolve` — ``Host`` header → tenant, per request.
"""
from core.tenancy.scoping import (  # noqa: F401
    ALL_TENANTS,
    CrossTenantWrite,
    TenantNotBound,
    TenantScoped,
    current_tenant_id,
    tenant_context,
)
