"""``/api/v1/notices``: the bound tenant's published notices."""
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from core.api import Blueprint
from core.extensions import db
from core.notices.models import NOTICE_KINDS, Notice
from core.notices.schemas import NoticeQuerySchema, NoticeSchema

blp = Blueprint("notices", __name__, description="Announcements and disclosures")


@blp.route("")
class Notices(MethodView):
    @blp.arguments(NoticeQuerySchema, location="query")
    @blp.response(200, NoticeSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List notices, newest first"""
        query = select(Notice).order_by(Notice.published_at.desc(), Notice.id.desc())
        if args.get("kind"):
            if args["kind"] not in NOTICE_KINDS:
                abort(422, message="Unknown notice kind.", errors={"kind": [f"must be one of {', '.join(NOTICE_KINDS)}"]})
            query = query.where(Notice.kind == args["kind"])
        page = db.paginate(query, page=pagination_parameters.page, per_page=pagination_parameters.page_size, error_out=False)
        pagination_parameters.item_count = page.total
        return page.items


@blp.route("/<int:notice_id>")
class NoticeById(MethodView):
    @blp.response(200, NoticeSchema)
    def get(self, notice_id):
        """Get one notice"""
        notice = db.session.get(Notice, notice_id)
        if notice is None:
            abort(404, message=f"No notice {notice_id}.")
        return notice
