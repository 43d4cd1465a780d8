"""Roles and the named permissions they grant.

Pages and endpoints ask for a permission, never for a role
(``@requires("kyc.review")``, see :mod:`core.accounts.access`). Other modules
name their own permissions at import::

    define_permission("loans.approve", ("reviewer", "risk_officer"), "Approve loan applications")

``tenant_admin`` holds every staff permission. Staff permissions are used
only in a session that passed the TOTP step.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from core.accounts.models import CUSTOMER_ROLES, STAFF_ROLES

#: What each role is called on the pages (the account page, the staff console, the audit log).
ROLE_LABELS = {
    "borrower": _l("Borrower"), "investor": _l("Investor"), "tenant_admin": _l("Tenant administrator"),
    "reviewer": _l("Reviewer"), "risk_officer": _l("Risk officer"), "finance": _l("Finance"),
    "support": _l("Customer support"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


@dataclass(frozen=True)
class Permission:
    name: str
    roles: frozenset[str]
    description: str

    @property
    def staff(self) -> bool:
        """A staff permission: held through staff roles, needs the second factor."""
        return bool(self.roles & set(STAFF_ROLES))


PERMISSIONS: dict[str, Permission] = {}


def define_permission(name: str, roles, description: str) -> Permission:
    """Name a permission and the roles granting it; ``tenant_admin`` gets every staff permission."""
    roles = frozenset(roles)
    unknown = roles - set(STAFF_ROLES) - set(CUSTOMER_ROLES)
    if unknown:
        raise ValueError(f"permission {name}: unknown roles {sorted(unknown)}")
    if roles & set(STAFF_ROLES):
        if roles & set(CUSTOMER_ROLES):
            raise ValueError(f"permission {name}: mixes staff and customer roles")
        roles = roles | {"tenant_admin"}
    PERMISSIONS[name] = Permission(name, roles, description)
    return PERMISSIONS[name]


def role_has(role: str, permission: str) -> bool:
    found = PERMISSIONS.get(permission)
    if found is None:
        raise KeyError(f"no permission named {permission!r}; define it with define_permission()")
    return role in found.roles


def permissions_of(roles) -> list[str]:
    roles = set(roles)
    return sorted(name for name, p in PERMISSIONS.items() if p.roles & roles)


ALL_STAFF = STAFF_ROLES

# Customers
define_permission("borrow", ("borrower",), "Apply for loans and repay them")
define_permission("invest", ("investor",), "Bid on listed loans, transfer claims")

# Staff
define_permission("staff.console", ALL_STAFF, "Open the staff pages")
define_permission("users.view", ALL_STAFF, "Look up users (personal data masked)")
define_permission("users.unmask.mobile", ("support", "reviewer"), "See whole mobile numbers")
define_permission("users.unmask.identity", ("reviewer", "risk_officer"), "See whole names and identity numbers")
define_permission("users.unmask.bank_card", ("finance",), "See whole bank card numbers")
define_permission("users.export", ("risk_officer",), "Export the user list (masked)")
define_permission("kyc.review", ("reviewer",), "Approve or reject identity verifications")
define_permission("kyc.documents", ("reviewer",), "View uploaded identity documents")
define_permission("staff.manage", ("tenant_admin",), "Grant and revoke staff roles")
define_permission("audit.view", ("risk_officer",), "Read the audit log")
define_permission("loans.review", ("reviewer", "risk_officer"), "Review loan applications")
define_permission("risk.view", ("risk_officer",), "See risk indicators and alerts")
define_permission("finance.view", ("finance",), "See the ledger, custody instructions and reconciliation")
define_permission("support.assist", ("support",), "Help users with their accounts")

#: Which permission lets a viewer see each kind of personal data whole.
UNMASK_PERMISSION = {
    "mobile": "users.unmask.mobile",
    "name": "users.unmask.identity",
    "id_number": "users.unmask.identity",
    "uscc": "users.unmask.identity",
    "bank_card": "users.unmask.bank_card",
}
