"""The signed-in borrower's credit: grade, limit, available limit and rate band (page and API)."""
from __future__ import annotations

from flask import Blueprint, g, render_template
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import abort

from core.accounts.access import current_principal, requires
from core.api import Blueprint as ApiBlueprint
from core.credit import BureauUnavailable
from core.credit.grades import credit_summary, grade_subject
from core.credit.schemas import CreditSummarySchema
from core.web.nav import nav_item

pages = Blueprint("credit_summary", __name__)
blp = ApiBlueprint("my_credit", __name__, url_prefix="/api/v1/me/credit", description="The signed-in borrower's credit")


def summary_for(user):
    """``(summary, problem)``: the user's credit summary, grading them first if never graded.

    ``problem`` is ``"kyc"`` (identity not verified yet) or ``"bureau"`` (the
    bureau did not answer: try later); never a silent grade.
    """
    from core.lending.applications import identity_of, owed_here

    identity = identity_of(user)
    if identity is None:
        return None, "kyc"
    kind, number, subject_key, name, _masked_name, _masked_number = identity
    owed = owed_here(user.id)
    summary = credit_summary(g.tenant, subject_key, owed)
    if summary is None:
        try:
            grade_subject(g.tenant, kind, number, subject_key, name=name)
        except BureauUnavailable:
            return None, "bureau"
        summary = credit_summary(g.tenant, subject_key, owed)
    return summary, None


@pages.route("/credit")
@requires("borrow")
def my_credit():
    summary, problem = summary_for(current_principal())
    return render_template("credit/summary.html", summary=summary, problem=problem), (503 if problem == "bureau" else 200)


@blp.route("")
class MyCredit(MethodView):
    @requires("borrow")
    @blp.response(200, CreditSummarySchema)
    def get(self):
        """The signed-in borrower's grade, limit, available limit and rate band"""
        summary, problem = summary_for(current_principal())
        if problem == "kyc":
            abort(409, message=str(_l("Verify your identity first: a grade needs a verified identity.")))
        if problem == "bureau":
            abort(503, message=str(_l("The credit bureau did not answer. Please try again later.")))
        return summary


def _is_borrower() -> bool:
    user = current_principal()
    return bool(user) and user.can("borrow")


nav_item("credit_summary.my_credit", _l("My credit"), order=45, when=_is_borrower)
