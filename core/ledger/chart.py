"""The chart of accounts: opening the platform's and each user's ledger accounts.

Codes (unique per tenant)::

    platform:bank_clearing      asset      all money at the custody bank
    platform:fee_income         income     mirrors bank sub-account PLATFORM-FEE
    platform:risk_reserve       liability  mirrors PLATFORM-RESERVE
    platform:marketing          equity     mirrors PLATFORM-MARKETING
    user:<id>:available         liability  mirrors the user's sub-account, available part
    user:<id>:frozen            liability  mirrors the user's sub-account, frozen part

Opening is idempotent: an account that exists is returned as it is.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.extensions import db
from core.ledger.journal import writing
from core.ledger.models import (
    ACCOUNT_KINDS,
    CUSTODY_BUCKETS,
    NORMAL_SIDES,
    PLATFORM_ACCOUNTS,
    LedgerAccount,
    platform_account_code,
    user_account_code,
)
from core.tenancy.models import Tenant, utcnow
from core.tenancy.scoping import current_tenant_id

__all__ = [
    "open_account",
    "open_platform_accounts",
    "open_user_accounts",
    "account",
    "accounts",
    "user_custody_account",
    "tenant_currency",
]


def tenant_currency() -> str:
    """The bound tenant's currency."""
    return db.session.get(Tenant, current_tenant_id()).currency


def user_custody_account(user_id: int) -> str:
    """The custody bank sub-account name of a user: ``U42``."""
    return f"U{int(user_id)}"


def open_account(
    code: str,
    *,
    kind: str,
    normal_side: str,
    currency: str | None = None,
    owner_user_id: int | None = None,
    custody_account: str | None = None,
    custody_bucket: str | None = None,
) -> LedgerAccount:
    """Open ``code`` in the bound tenant's books (or return it if it is open already)."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"kind must be one of {ACCOUNT_KINDS}")
    if normal_side not in NORMAL_SIDES:
        raise ValueError(f"normal_side must be one of {NORMAL_SIDES}")
    if custody_bucket is not None and custody_bucket not in CUSTODY_BUCKETS:
        raise ValueError(f"custody_bucket must be one of {CUSTODY_BUCKETS} or None")
    if (custody_account is None) != (custody_bucket is None):
        raise ValueError("custody_account and custody_bucket go together")
    with writing() as tx:
        values = {
            "tenant_id": tx.tenant_id,
            "code": code,
            "kind": kind,
            "normal_side": normal_side,
            "currency": currency or tenant_currency(),
            "owner_user_id": owner_user_id,
            "custody_account": custody_account,
            "custody_bucket": custody_bucket,
            "balance": 0,
            "pending_debit": 0,
            "pending_credit": 0,
            "created_at": utcnow(),
        }
        insert = pg_insert if tx.dialect == "postgresql" else sqlite_insert
        db.session.execute(
            insert(LedgerAccount).values(**values).on_conflict_do_nothing(index_elements=["tenant_id", "code"])
        )
        found = account(code)
    if (found.kind, found.normal_side, found.custody_account, found.custody_bucket) != (
        kind, normal_side, custody_account, custody_bucket
    ):
        raise ValueError(f"ledger account {code} exists with other attributes")
    return found


def open_platform_accounts(currency: str | None = None) -> dict[str, LedgerAccount]:
    """The platform's own accounts (see :data:`PLATFORM_ACCOUNTS`), opened when missing."""
    opened = {}
    with writing():
        for role, spec in PLATFORM_ACCOUNTS.items():
            opened[role] = open_account(
                platform_account_code(role),
                kind=spec["kind"],
                normal_side=spec["normal_side"],
                currency=currency,
                custody_account=spec["custody"],
                custody_bucket="available" if spec["custody"] else None,
            )
    return opened


def open_user_accounts(user_id: int, *, custody_account: str | None = None,
                       currency: str | None = None) -> tuple[LedgerAccount, LedgerAccount]:
    """A user's ``available`` and ``frozen`` accounts, mirroring their custody sub-account."""
    custody_account = custody_account or user_custody_account(user_id)
    with writing():
        pair = tuple(
            open_account(
                user_account_code(user_id, bucket),
                kind="liability",
                normal_side="credit",
                currency=currency,
                owner_user_id=int(user_id),
                custody_account=custody_account,
                custody_bucket=bucket,
            )
            for bucket in ("available", "frozen")
        )
    return pair


def account(code: str) -> LedgerAccount | None:
    """The bound tenant's account ``code`` (fresh from the database), or None."""
    return db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.code == code).execution_options(populate_existing=True)
    ).first()


def accounts() -> list[LedgerAccount]:
    """Every account of the bound tenant, by code."""
    return list(db.session.scalars(
        select(LedgerAccount).order_by(LedgerAccount.code).execution_options(populate_existing=True)
    ))
