"""Finance staff's reconciliation page: every run, and each difference by account and request number."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.accounts.access import requires
from core.custody.models import ReconciliationDifference, ReconciliationRun
from core.extensions import db
from core.web.nav import nav_item

finance = Blueprint("finance", __name__, url_prefix="/staff/finance")


@finance.route("/reconciliation")
@requires("finance.view")
def reconciliation():
    runs = db.session.scalars(select(ReconciliationRun).order_by(ReconciliationRun.day.desc(), ReconciliationRun.id.desc()).limit(60)).all()
    return render_template("custody/reconciliation.html", runs=runs, run=None, differences=[])


@finance.route("/reconciliation/<int:run_id>")
@requires("finance.view")
def reconciliation_run(run_id):
    run = db.session.get(ReconciliationRun, run_id)
    if run is None:
        abort(404)
    differences = db.session.scalars(select(ReconciliationDifference).where(ReconciliationDifference.run_id == run.id).order_by(ReconciliationDifference.id)).all()
    return render_template("custody/reconciliation.html", runs=[], run=run, differences=differences)


def _finance() -> bool:
    from core.accounts.access import current_principal

    user = current_principal()
    return bool(user) and user.can("finance.view")

nav_item("finance.reconciliation", _l("Reconciliation"), order=86, when=_finance, active_prefix="finance.")
