"""Staff pages under ``/staff``: KYC review queue, user look-up, roles, audit log.

Every page needs a staff permission, and so a session that passed the TOTP
step. Personal data is shown masked; a role that needs a value whole asks to
reveal it (a POST), and each reveal is audited as ``pii.viewed``.
"""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from core.accounts import crypto, documents, kyc, staffing
from core.accounts.access import current_principal, requires
from core.accounts.cards import cards_of
from core.accounts.forms import ConfirmForm, LookupForm, RejectForm, StaffRolesForm, show_refusal
from core.accounts.identity import InvalidIdentity, mask_bank_card, normalize_cn_mobile, validate_resident_id
from core.accounts.models import KYC_STATUSES, STAFF_ROLES, KycApplication, User
from core.accounts.policy import AccountRefused
from core.accounts.roles import UNMASK_PERMISSION
from core.accounts.signin import is_locked
from core.accounts.staffing import set_staff_roles
from core.audit import audit
from core.audit.models import AuditRecord
from core.extensions import db
from core.web.nav import nav_item

staff = Blueprint("staff", __name__, url_prefix="/staff")


def _is_staff() -> bool:
    user = current_principal()
    return bool(user is not None and user.is_staff)


#: The one entry of the site's menu for staff; every staff page is under it (the staff menu is in staff/_layout.html).
nav_item("staff.dashboard", _l("Staff"), order=85, when=_is_staff,
         active_prefix=("staff.", "lending.staff_", "finance.", "settings."))


@staff.route("/")
@requires("staff.console")
def dashboard():
    from core.accounts.today import queues_for

    return render_template("staff/dashboard.html", queues=queues_for(current_user), logout_form=ConfirmForm())


# ------------------------------------------------------------------ KYC review


@staff.route("/kyc")
@requires("kyc.review")
def kyc_queue():
    status = request.args.get("status", "pending")
    if status not in KYC_STATUSES:
        status = "pending"
    order = KycApplication.submitted_at.asc() if status == "pending" else KycApplication.reviewed_at.desc()
    applications = db.session.scalars(select(KycApplication).where(KycApplication.status == status).order_by(order).limit(200)).all()
    return render_template("staff/kyc_queue.html", applications=applications, status=status, statuses=KYC_STATUSES)


def _application(application_id: int) -> KycApplication:
    application = db.session.get(KycApplication, application_id)
    if application is None:
        abort(404)
    return application


def reveal_value(subject, field: str, viewer: User) -> str:
    """The whole value of ``field`` for ``viewer`` (permission checked, view audited) — or 403."""
    permission = UNMASK_PERMISSION.get(field)
    if permission is None:
        abort(404)
    if not viewer.can(permission):
        abort(403)
    if isinstance(subject, KycApplication):
        value = {"name": subject.name, "id_number": subject.id_number, "uscc": subject.uscc}.get(field)
        target = subject
    elif field == "mobile":
        value, target = subject.mobile, subject
    elif field == "bank_card":
        value, target = ", ".join(card.number for card in cards_of(subject)), subject
    else:
        application = kyc.latest_application(subject)
        value = {"name": application.name, "id_number": application.id_number, "uscc": application.uscc}.get(field) if application else ""
        target = subject
    if value is None:
        abort(404)
    audit("pii.viewed", actor=viewer, target=target, details={"field": field})
    db.session.commit()
    return value


@staff.route("/kyc/<int:application_id>", methods=["GET", "POST"])
@requires("kyc.review")
def kyc_detail(application_id):
    application = _application(application_id)
    revealed = {}
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        field = request.form.get("field", "")
        revealed[field] = reveal_value(application, field, current_user)
    return render_template("staff/kyc_detail.html", application=application, revealed=revealed,
                           reject_form=RejectForm(), confirm_form=ConfirmForm(), applicant=application.user)


@staff.route("/kyc/<int:application_id>/documents/<kind>")
@requires("kyc.documents")
def kyc_document(application_id, kind):
    application = _application(application_id)
    document = application.document(kind)
    if document is None:
        abort(404)
    data = documents.load(g.tenant, document.storage_name)
    audit("pii.viewed", actor=current_user, target=application, details={"field": f"document:{kind}"})
    db.session.commit()
    response = Response(data, mimetype=document.content_type)
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Content-Disposition"] = "inline"
    return response


@staff.route("/kyc/<int:application_id>/approve", methods=["POST"])
@requires("kyc.review")
def kyc_approve(application_id):
    application = _application(application_id)
    try:
        kyc.approve(application, current_user)
        flash(_("Approved."), "success")
    except AccountRefused as refusal:
        flash(refusal.message, "error")
    return redirect(url_for(".kyc_queue"))


@staff.route("/kyc/<int:application_id>/reject", methods=["POST"])
@requires("kyc.review")
def kyc_reject(application_id):
    application = _application(application_id)
    form = RejectForm()
    try:
        kyc.reject(application, current_user, form.reason.data)
        flash(_("Rejected; the applicant sees your reason."), "success")
        return redirect(url_for(".kyc_queue"))
    except AccountRefused as refusal:
        show_refusal(form, refusal)
    return render_template("staff/kyc_detail.html", application=application, revealed={}, reject_form=form,
                           confirm_form=ConfirmForm(), applicant=application.user)


# ------------------------------------------------------------------ users


def find_users(tenant, query: str) -> list[User]:
    """Users matching a mobile number, an identity number or a user number (blind-index look-ups)."""
    query = (query or "").strip()
    if not query:
        return []
    try:
        return [u for u in [User.by_mobile(tenant, normalize_cn_mobile(query))] if u]
    except InvalidIdentity:
        pass
    try:
        number = validate_resident_id(query).number
    except InvalidIdentity:
        number = None
    if number:
        index = crypto.blind_index(tenant, "id_number", number)
        ids = db.session.scalars(select(KycApplication.user_id).where(KycApplication.id_number_index == index)).all()
        return list(db.session.scalars(select(User).where(User.id.in_(set(ids)))))
    if query.isdigit():
        user = db.session.get(User, int(query))
        return [user] if user else []
    return []


@staff.route("/users")
@requires("users.view")
def users():
    form = LookupForm(request.args)
    found = find_users(g.tenant, form.q.data) if form.q.data else []
    if form.q.data and not found:
        flash(_("No user matches. Enter a whole mobile number, identity number or user number."), "warning")
    recent = [] if form.q.data else db.session.scalars(select(User).order_by(User.id.desc()).limit(20)).all()
    return render_template("staff/users.html", form=form, found=found, recent=recent)


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _user_page(user: User, revealed=None, roles_form=None):
    roles_form = roles_form or StaffRolesForm(roles=sorted(user.role_names & set(STAFF_ROLES)))
    return render_template(
        "staff/user.html", subject=user, application=kyc.latest_application(user), cards=cards_of(user),
        revealed=revealed or {}, roles_form=roles_form, confirm_form=ConfirmForm(), locked=is_locked(user),
    )


@staff.route("/users/<int:user_id>")
@requires("users.view")
def user(user_id):
    return _user_page(_user(user_id))


@staff.route("/users/<int:user_id>/reveal", methods=["POST"])
@requires("users.view")
def reveal(user_id):
    subject = _user(user_id)
    field = request.form.get("field", "")
    return _user_page(subject, revealed={field: reveal_value(subject, field, current_user)})


@staff.route("/users/<int:user_id>/roles", methods=["POST"])
@requires("staff.manage")
def user_roles(user_id):
    subject = _user(user_id)
    form = StaffRolesForm()
    try:
        set_staff_roles(current_user, subject, form.roles.data)
        flash(_("Roles saved. They take effect at the user's next sign-in."), "success")
    except AccountRefused as refusal:
        flash(refusal.message, "error")
    return redirect(url_for(".user", user_id=user_id))


@staff.route("/users/<int:user_id>/unlock", methods=["POST"])
@requires("support.assist")
def unlock(user_id):
    staffing.unlock_account(current_user, _user(user_id))
    flash(_("The account is unlocked."), "success")
    return redirect(url_for(".user", user_id=user_id))


@staff.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@requires("staff.manage")
def reset_two_factor(user_id):
    staffing.reset_two_factor(current_user, _user(user_id))
    flash(_("Two-factor sign-in was reset; the user sets it up again at the next sign-in."), "success")
    return redirect(url_for(".user", user_id=user_id))


@staff.route("/users.csv")
@requires("users.export")
def users_export():
    """Every user with personal data masked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "kind", "mobile", "roles", "kyc", "name", "id_number", "bank_card", "registered"])
    for subject in db.session.scalars(select(User).order_by(User.id)):
        application = kyc.latest_application(subject)
        writer.writerow([
            subject.id, subject.kind, subject.masked_mobile, " ".join(sorted(subject.role_names)),
            application.status if application else "none",
            application.masked_name if application else "", application.masked_id_number if application else "",
            " ".join(mask_bank_card(c.number) for c in cards_of(subject)), subject.created_at.date().isoformat(),
        ])
    audit("users.exported", actor=current_user, target="users", details={"masked": True})
    db.session.commit()
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=users.csv", "Cache-Control": "no-store"})


@staff.route("/audit")
@requires("audit.view")
def audit_log():
    from core.audit import labels

    before = request.args.get("before", type=int)
    query = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(AUDIT_PAGE + 1)
    if before:
        query = query.where(AuditRecord.seq < before)
    records = db.session.scalars(query).all()
    older = records[AUDIT_PAGE - 1].seq if len(records) > AUDIT_PAGE else None
    records = records[:AUDIT_PAGE]
    ids = labels.user_ids([r.actor for r in records] + [r.target for r in records])
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    currency = g.tenant.currency
    rows = [{"record": r, "event": labels.event_label(r.event), "actor": labels.person(r.actor, users),
             "actor_id": r.actor_id if r.actor_id in users else None,
             "target": labels.person(r.target, users) if r.target.startswith("user:") else r.target,
             "details": labels.details_pairs(r.details, currency, r.event)} for r in records]
    return render_template("staff/audit.html", rows=rows, older=older, before=before)


#: Audit records per page.
AUDIT_PAGE = 100
