"""The tenant's public site: home page and notices. Later modules add their own pages."""
from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext as _l

from core.extensions import db
from core.notices.models import Notice
from core.web.nav import nav_item

site = Blueprint("site", __name__)

nav_item("site.home", _l("Home"), order=0, active_prefix="site.home")
nav_item("site.notices", _l("Notices"), order=90, active_prefix="site.notice")


@site.route("/")
def home():
    return render_template("home.html", notices=Notice.latest(limit=3))


@site.route("/notices")
def notices():
    return render_template("notices.html", notices=Notice.latest())


@site.route("/notices/<int:notice_id>")
def notice(notice_id):
    item = db.session.get(Notice, notice_id)
    if item is None:
        abort(404)
    return render_template("notice.html", notice=item)
