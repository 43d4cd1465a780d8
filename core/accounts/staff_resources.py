"""``/api/v1/staff``: KYC review, user look-up, reveals, roles, unlocking, two-factor resets and the audit log.

A staff token comes from ``POST /api/v1/auth/tokens`` with the authenticator
code; every endpoint here needs a staff permission.
"""
from __future__ import annotations

from flask import Response, g
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import abort
from sqlalchemy import select

from core.accounts import documents, kyc, staffing
from core.accounts.access import api_user, requires
from core.accounts.models import KycApplication, User
from core.accounts.policy import AccountRefused
from core.accounts.resources import refuse
from core.accounts.schemas import (
    AuditQuerySchema,
    AuditRecordSchema,
    KycApplicationSchema,
    KycQuerySchema,
    RejectSchema,
    RevealedSchema,
    RevealSchema,
    StaffRolesSchema,
    StaffUserSchema,
    UserQuerySchema,
)
from core.accounts.staff_views import find_users, reveal_value
from core.accounts.staffing import set_staff_roles
from core.api import API_PREFIX, Blueprint
from core.audit import audit
from core.audit.models import AuditRecord
from core.extensions import db

blp = Blueprint("staff_api", __name__, url_prefix=f"{API_PREFIX}/staff", description="Staff: KYC review, users, roles, audit")


def _application(application_id: int) -> KycApplication:
    application = db.session.get(KycApplication, application_id)
    if application is None:
        abort(404, message=str(_l("No KYC application %(id)d.", id=application_id)))
    return application


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, message=str(_l("No user %(id)d.", id=user_id)))
    return user


@blp.route("/kyc")
class KycQueue(MethodView):
    @requires("kyc.review")
    @blp.arguments(KycQuerySchema, location="query")
    @blp.response(200, KycApplicationSchema(many=True))
    def get(self, args):
        """Applications by status (default: pending, oldest first)"""
        order = KycApplication.submitted_at.asc() if args["status"] == "pending" else KycApplication.reviewed_at.desc()
        return db.session.scalars(select(KycApplication).where(KycApplication.status == args["status"]).order_by(order).limit(500)).all()


@blp.route("/kyc/<int:application_id>")
class KycItem(MethodView):
    @requires("kyc.review")
    @blp.response(200, KycApplicationSchema)
    def get(self, application_id):
        """One application (masked)"""
        return _application(application_id)


@blp.route("/kyc/<int:application_id>/approve")
class KycApprove(MethodView):
    @requires("kyc.review")
    @blp.response(200, KycApplicationSchema)
    def post(self, application_id):
        """Approve a pending application"""
        application = _application(application_id)
        try:
            kyc.approve(application, api_user())
        except AccountRefused as refusal:
            refuse(refusal)
        return application


@blp.route("/kyc/<int:application_id>/reject")
class KycReject(MethodView):
    @requires("kyc.review")
    @blp.arguments(RejectSchema)
    @blp.response(200, KycApplicationSchema)
    def post(self, args, application_id):
        """Reject a pending application, with the reason shown to the applicant"""
        application = _application(application_id)
        try:
            kyc.reject(application, api_user(), args["reason"])
        except AccountRefused as refusal:
            refuse(refusal)
        return application


@blp.route("/kyc/<int:application_id>/documents/<kind>")
class KycDocumentImage(MethodView):
    @requires("kyc.documents")
    @blp.response(200, content_type="image/*")
    def get(self, application_id, kind):
        """An uploaded image, decrypted (the view is audited)"""
        application = _application(application_id)
        document = application.document(kind)
        if document is None:
            abort(404, message=str(_l("This application has no such document.")))
        data = documents.load(g.tenant, document.storage_name)
        audit("pii.viewed", actor=api_user(), target=application, details={"field": f"document:{kind}"})
        db.session.commit()
        return Response(data, mimetype=document.content_type, headers={"Cache-Control": "no-store, private"})


@blp.route("/users")
class Users(MethodView):
    @requires("users.view")
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, StaffUserSchema(many=True))
    def get(self, args):
        """Find users by a whole mobile number, identity number or user number"""
        return find_users(g.tenant, args["q"])


@blp.route("/users/<int:user_id>")
class UserItem(MethodView):
    @requires("users.view")
    @blp.response(200, StaffUserSchema)
    def get(self, user_id):
        """One user, personal data masked"""
        return _user(user_id)


@blp.route("/users/<int:user_id>/reveal")
class UserReveal(MethodView):
    @requires("users.view")
    @blp.arguments(RevealSchema)
    @blp.response(200, RevealedSchema)
    def post(self, args, user_id):
        """One field unmasked, for roles that need it (the view is audited)"""
        from werkzeug.exceptions import Forbidden

        user = _user(user_id)
        try:
            value = reveal_value(user, args["field"], api_user())
        except Forbidden:
            abort(403, message=str(_l("Your role may not see this field unmasked.")))
        return {"field": args["field"], "value": value}


@blp.route("/users/<int:user_id>/roles")
class UserRoles(MethodView):
    @requires("staff.manage")
    @blp.arguments(StaffRolesSchema)
    @blp.response(200, StaffUserSchema)
    def put(self, args, user_id):
        """Set a user's staff roles (tenant administrators)"""
        user = _user(user_id)
        try:
            set_staff_roles(api_user(), user, args["roles"])
        except AccountRefused as refusal:
            refuse(refusal)
        return user


@blp.route("/users/<int:user_id>/unlock")
class UserUnlock(MethodView):
    @requires("support.assist")
    @blp.response(200, StaffUserSchema)
    def post(self, user_id):
        """Lift a sign-in lockout before it ends (the action is audited)"""
        user = _user(user_id)
        staffing.unlock_account(api_user(), user)
        return user


@blp.route("/users/<int:user_id>/two-factor/reset")
class UserTwoFactorReset(MethodView):
    @requires("staff.manage")
    @blp.response(200, StaffUserSchema)
    def post(self, user_id):
        """Forget a staff member's authenticator: they enrol again at the next sign-in (audited)"""
        user = _user(user_id)
        staffing.reset_two_factor(api_user(), user)
        return user


@blp.route("/audit")
class AuditLog(MethodView):
    @requires("audit.view")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditRecordSchema(many=True))
    def get(self, args):
        """The newest audit records"""
        return db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(args["limit"])).all()
