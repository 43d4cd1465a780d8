"""``/healthz``: for load balancers; answers on every host."""
from flask import Blueprint
from flask_babel import gettext as _
from sqlalchemy import text

from core.extensions import db

health = Blueprint("health", __name__)


@health.route("/healthz")
def healthz():
    """200 with ``{"status": "ok"}`` when the database answers, else 503 with the API's error body."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # the database is down or unreachable
        db.session.rollback()
        return {"code": 503, "status": "Service Unavailable", "message": _("The database does not answer."),
                "errors": {"database": [type(exc).__name__]}}, 503
    return {"status": "ok", "database": "ok"}
