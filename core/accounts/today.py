"""What the staff dashboard shows: the day's queues a staff member may work on, each a count and a link.

Every count is an ORM query on tenant-owned models, so it is scoped to the
bound tenant by the session (:mod:`core.tenancy.scoping`), never by hand.
A queue appears only when the viewer holds the permission its page needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

from flask import g, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from core.extensions import db


@dataclass
class Queue:
    """One line of the dashboard: ``count`` things to do, what they are, and where to do them."""

    title: str
    count: int
    text: str
    url: str
    #: ``attention`` when something waits, ``quiet`` when the queue is empty.
    tone: str = "quiet"
    #: Extra lines under the count (an overdue queue's split by collection status).
    lines: list[tuple[str, str]] = field(default_factory=list)


def day_bounds(day, zone) -> tuple[datetime, datetime]:
    """The tenant's calendar ``day`` as a half-open UTC interval."""
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(timezone.utc)
    return start, end


def _count(statement) -> int:
    return int(db.session.scalar(statement) or 0)


def queues_for(user) -> list[Queue]:
    """The bound tenant's queues ``user`` may work on, in the order a day's work goes."""
    from core.accounts.models import KycApplication
    from core.lending.lifecycle import tenant_today, tenant_zone
    from core.lending.models import Loan

    tenant = g.tenant
    today = tenant_today(tenant)
    start, end = day_bounds(today, tenant_zone(tenant))
    found: list[Queue] = []

    if user.can("kyc.review"):
        n = _count(select(func.count(KycApplication.id)).where(KycApplication.status == "pending"))
        found.append(Queue(_("KYC review"), n, ngettext("%(num)d identity waiting for review",
                                                         "%(num)d identities waiting for review", n),
                           url_for("staff.kyc_queue"), "attention" if n else "quiet"))

    for permission, step, title in (("loans.first_review", "review", _("First review of loans")),
                                    ("loans.risk_review", "risk", _("Risk review of loans"))):
        if user.can(permission) and user.can("loans.review") and user.can("loans.staff_view"):
            n = _count(select(func.count(Loan.id)).where(Loan.status == "submitted", Loan.review_step == step))
            found.append(Queue(title, n, ngettext("%(num)d loan application waiting",
                                                  "%(num)d loan applications waiting", n),
                               url_for("lending.staff_loans", _anchor="review"), "attention" if n else "quiet"))

    if user.can("loans.staff_view"):
        closing = _count(select(func.count(Loan.id)).where(Loan.status == "listed", Loan.deadline >= start,
                                                           Loan.deadline < end))
        failed = _count(select(func.count(Loan.id)).where(Loan.status == "failed", Loan.status_changed_at >= start,
                                                          Loan.status_changed_at < end))
        found.append(Queue(_("Listings"), closing, ngettext("%(num)d listing closes today",
                                                            "%(num)d listings close today", closing),
                           url_for("lending.staff_loans", _anchor="listings"), "attention" if closing else "quiet",
                           lines=[(ngettext("%(num)d listing was not funded today",
                                            "%(num)d listings were not funded today", failed),
                                   url_for("lending.staff_loans", _anchor="listings"))]))

    if user.can("loans.collect"):
        from core.lending.views import collection_label

        rows = db.session.execute(
            select(Loan.collection_status, func.count(Loan.id))
            .where(Loan.status.in_(("overdue", "defaulted"))).group_by(Loan.collection_status)
            .order_by(Loan.collection_status)
        ).all()
        n = sum(count for _status, count in rows)
        found.append(Queue(_("Collection"), n, ngettext("%(num)d loan overdue or defaulted",
                                                        "%(num)d loans overdue or defaulted", n),
                           url_for("lending.staff_collection"), "attention" if n else "quiet",
                           lines=[(_("%(status)s: %(count)d", status=collection_label(status), count=count),
                                   url_for("lending.staff_collection", collection=status))
                                  for status, count in rows]))

    if user.can("finance.view"):
        from core.custody.models import ReconciliationRun

        last = db.session.scalars(select(ReconciliationRun)
                                  .order_by(ReconciliationRun.finished_at.desc(), ReconciliationRun.id.desc())
                                  .limit(1)).first()
        yesterday = today - timedelta(days=1)
        done = _count(select(func.count(ReconciliationRun.id)).where(ReconciliationRun.day == yesterday))
        if last is None:
            text = _("No reconciliation has run yet.")
        elif last.status == "clean":
            text = _("Last run: %(day)s, clean.", day=last.day.isoformat())
        else:
            text = ngettext("Last run: %(day)s, %(num)d difference.", "Last run: %(day)s, %(num)d differences.",
                            last.difference_count, day=last.day.isoformat())
        lines = [(_("Yesterday (%(day)s) is reconciled.", day=yesterday.isoformat()) if done
                  else _("Yesterday (%(day)s) is not reconciled yet.", day=yesterday.isoformat()),
                  url_for("finance.reconciliation"))]
        bad = last is not None and last.status != "clean"
        found.append(Queue(_("Reconciliation"), last.difference_count if last is not None else 0, text,
                           url_for("finance.reconciliation_run", run_id=last.id) if last is not None
                           else url_for("finance.reconciliation"),
                           "attention" if (bad or not done) else "quiet", lines=lines))
    return found
