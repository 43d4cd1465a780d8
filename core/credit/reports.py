"""Bureau reports: ask the tenant's bureau, store the answer, reuse it while it is fresh."""
from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone

from core.accounts.identity import mask_id_number, mask_uscc
from core.credit import SUBJECT_TYPES, BureauReport, CreditBureau
from core.credit.models import CreditReport
from core.credit.settings import credit_settings
from core.extensions import db
from core.tenancy.models import aware
from core.tenancy.scoping import current_tenant_id, tenant_context


def bureau_for(tenant) -> CreditBureau:
    """The credit-bureau provider a tenant chose in ``tenant.yaml``, with its settings."""
    from core.plugins import provider_registry

    choice = tenant.config["providers"]["credit_bureau"]
    provider = provider_registry()["credit_bureau"].get(choice["name"])
    if provider is None:
        raise LookupError(f"tenant {tenant.slug}: no credit bureau named {choice['name']!r} is installed")
    return provider(choice.get("settings") or {}, tenant_slug=tenant.slug)


@contextlib.contextmanager
def bound_to(tenant):
    """Run under ``tenant``: as is when it is already bound, else in a ``tenant_context``.

    Yields the tenant as this session holds it, so its configuration is current
    even when the caller's object is detached or stale.
    """
    from core.tenancy.models import Tenant

    bound = current_tenant_id()
    if bound == tenant.id:
        yield db.session.get(Tenant, tenant.id)
    elif bound is None:
        with tenant_context(tenant.id):
            yield db.session.get(Tenant, tenant.id)
    else:
        raise RuntimeError(f"tenant {tenant.slug} asked for while another tenant is bound")


def is_fresh(report: CreditReport, max_age_days: int, now: datetime) -> bool:
    """Was ``report`` fetched within the last ``max_age_days`` days of ``now``?"""
    return now - aware(report.fetched_at) < timedelta(days=max_age_days)


def mask_subject(subject_type: str, subject_id: str) -> str:
    return (mask_id_number if subject_type == "person" else mask_uscc)(subject_id)


def masked(report: BureauReport) -> dict:
    """The report's JSON form with the identity number masked, for storage."""
    data = report.to_dict()
    data["subject_id"] = mask_subject(report.subject_type, report.subject_id)
    return data


def store_report(report: BureauReport, subject_key: str, *, now: datetime | None = None) -> CreditReport:
    """Keep ``report`` for ``subject_key`` under the bound tenant (flushed, not committed)."""
    row = CreditReport(
        subject_key=subject_key,
        subject_type=report.subject_type,
        bureau=report.bureau,
        reference=report.reference,
        fetched_at=now or datetime.now(timezone.utc),
        score=report.score,
        identity_matched=report.identity_matched,
        platform_balance=report.platform_balance,
        total_balance=report.total_balance,
        currency=report.currency,
        raw=masked(report),
    )
    db.session.add(row)
    db.session.flush()
    return row


def obtain_report(
    tenant,
    subject_type: str,
    subject_id: str,
    subject_key: str,
    *,
    name: str | None = None,
    bureau: CreditBureau | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> CreditReport:
    """The subject's report: the latest stored one while it is younger than the tenant's
    ``credit.report_max_age_days`` (and is about the same subject type and masked
    number), else a new one from the bureau, stored.

    Raises :class:`core.credit.BureauUnavailable` when a new report is needed
    and the bureau cannot answer; nothing is stored then.
    """
    if subject_type not in SUBJECT_TYPES:
        raise ValueError(f"subject_type must be one of {SUBJECT_TYPES}, got {subject_type!r}")
    if not subject_key:
        raise ValueError("subject_key is required")
    now = now or datetime.now(timezone.utc)
    with bound_to(tenant) as tenant:
        max_age = credit_settings(tenant)["report_max_age_days"]
        if not force:
            latest = CreditReport.latest(subject_key)
            if (
                latest is not None
                and latest.subject_type == subject_type
                and latest.raw.get("subject_id") == mask_subject(subject_type, subject_id.strip().upper())
                and is_fresh(latest, max_age, now)
            ):
                return latest
        bureau = bureau or bureau_for(tenant)
        report = bureau.fetch_report(subject_type, subject_id, name=name)
        if report.subject_type != subject_type:
            from core.credit import BureauUnavailable

            raise BureauUnavailable(f"bureau answered about a {report.subject_type}, asked about a {subject_type}")
        return store_report(report, subject_key, now=now)
