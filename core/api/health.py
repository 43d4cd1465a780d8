"""``/healthz``: for load balancers; answers on every host."""
from flask import Blueprint
from sqlalchemy import text

from core.extensions import db

health = Blueprint("health", __name__)


@health.route("/healthz")
def healthz():
    """200 with ``{"status": "ok"}`` when the database answers, else 503."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # the database is down or unreachable
        db.session.rollback()
        return {"status": "unavailable", "database": type(exc).__name__}, 503
    return {"status": "ok", "database": "ok"}
