"""Finance staff's reconciliation page: every run, each difference by account and request number,
and a form that runs the reconciliation of a day (the same service as ``lendkit reconcile``)."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField

from core.accounts.access import requires
from core.accounts.roles import PERMISSIONS, define_permission
from core.custody.models import ReconciliationDifference, ReconciliationRun
from core.extensions import db

if "finance.reconcile" not in PERMISSIONS:
    define_permission("finance.reconcile", ("finance",), "Run the reconciliation of a day from the staff pages")

finance = Blueprint("finance", __name__, url_prefix="/staff/finance")

DIFFERENCE_LABELS = {
    "missing_in_ledger": _l("Missing in the ledger"),
    "missing_at_bank": _l("Missing at the bank"),
    "amount_differs": _l("Amounts differ"),
    "balance_differs": _l("Closing balances differ"),
}
BUCKET_LABELS = {"available": _l("available"), "frozen": _l("frozen"), "total": _l("total")}


@finance.app_template_global()
def difference_label(kind: str) -> str:
    return str(DIFFERENCE_LABELS.get(kind, kind))


@finance.app_template_global()
def bucket_label(bucket: str) -> str:
    return str(BUCKET_LABELS.get(bucket, bucket))


class ReconcileForm(FlaskForm):
    day = StringField(_l("Statement day"), render_kw={"type": "date"})


def _yesterday() -> date:
    from core.lending.lifecycle import tenant_today

    return tenant_today(g.tenant) - timedelta(days=1)


def _runs():
    return db.session.scalars(select(ReconciliationRun)
                              .order_by(ReconciliationRun.day.desc(), ReconciliationRun.id.desc()).limit(60)).all()


def _list_page(form: ReconcileForm, status: int = 200):
    return render_template("custody/reconciliation.html", runs=_runs(), run=None, differences=[], form=form), status


@finance.route("/reconciliation")
@requires("finance.view")
def reconciliation():
    return _list_page(ReconcileForm(day=_yesterday().isoformat()))


@finance.route("/reconciliation", methods=["POST"])
@requires("finance.view", "finance.reconcile")
def reconcile_day():
    """Run the reconciliation of the day chosen (yesterday in the tenant's time zone by default)."""
    from core.custody.provider import CustodyError
    from core.audit import audit
    from core.custody.reconcile import FutureDay, reconcile, refuse_future_day
    from core.ledger.journal import writing

    form = ReconcileForm()
    if not form.validate_on_submit():  # the CSRF token is missing or stale
        form.day.errors = [_("The form expired. Please try again.")]
        return _list_page(form, 400)
    text = (form.day.data or "").strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        form.day.errors = [_("Enter a day such as %(example)s.", example=_yesterday().isoformat())]
        return _list_page(form, 400)
    try:
        refuse_future_day(day, g.tenant)
    except FutureDay:
        form.day.errors = [_("%(day)s has not ended yet, so the bank has no statement for it. Choose today or "
                             "an earlier day.", day=day.isoformat())]
        return _list_page(form, 400)
    try:
        with writing():  # the run, its differences and the audit record: stored together or not at all
            run = reconcile(day)
            audit("reconciliation.run", actor=current_user, target=f"reconciliation_run:{run.id}",
                  details={"day": day.isoformat(), "differences": run.difference_count})
    except CustodyError as exc:
        db.session.rollback()
        form.day.errors = [_("The custody bank could not give the statement (%(reason)s); nothing was recorded. "
                             "Try again later.", reason=str(exc))]
        return _list_page(form, 502)
    if run.status == "clean":
        flash(_("%(day)s reconciled: the books agree with the bank to the cent.", day=day.isoformat()), "success")
    else:
        flash(ngettext("%(day)s reconciled: %(num)d difference with the bank.",
                       "%(day)s reconciled: %(num)d differences with the bank.", run.difference_count,
                       day=day.isoformat()), "warning")
    return redirect(url_for(".reconciliation_run", run_id=run.id))


@finance.route("/reconciliation/<int:run_id>")
@requires("finance.view")
def reconciliation_run(run_id):
    run = db.session.get(ReconciliationRun, run_id)
    if run is None:
        abort(404)
    differences = db.session.scalars(select(ReconciliationDifference).where(ReconciliationDifference.run_id == run.id).order_by(ReconciliationDifference.id)).all()
    return render_template("custody/reconciliation.html", runs=[], run=run, differences=differences, form=None)
