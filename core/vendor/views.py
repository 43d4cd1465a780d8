"""Vendor console pages (vendor host only)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import select

from core.delivery import gates  # noqa: F401  (registers the gates)
from core.delivery.models import SignOff, StageChange
from core.delivery.stages import (
    STAGES,
    StageError,
    advance,
    next_stage,
    record_sign_off,
    run_gate,
    send_back,
    stage_label,
)
from core.extensions import db
from core.tenancy.models import Tenant
from core.vendor.auth import SignInRefused, operator_required, sign_in
from core.vendor.forms import ActionForm, LoginForm, SendBackForm, SignOffForm

vendor = Blueprint("vendor", __name__, url_prefix="/console")


def _tenant(slug: str) -> Tenant:
    tenant = Tenant.by_slug(slug)
    if tenant is None:
        abort(404)
    return tenant


@vendor.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            sign_in(form.login.data, form.password.data, form.code.data)
        except SignInRefused as exc:
            flash(str(exc), "error")
        else:
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("vendor.tenants"))
    return render_template("vendor/login.html", form=form)


@vendor.route("/logout", methods=["POST"])
def logout():
    from flask import session

    if ActionForm().validate_on_submit():
        session.clear()
    return redirect(url_for("vendor.login"))


@vendor.route("/")
@operator_required
def tenants():
    rows = []
    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.slug)):
        last = db.session.scalar(
            select(StageChange).where(StageChange.tenant_id == tenant.id).order_by(StageChange.at.desc(), StageChange.id.desc())
        )
        rows.append({"tenant": tenant, "next": next_stage(tenant.stage), "last": last, "progress": STAGES.index(tenant.stage)})
    return render_template("vendor/tenants.html", rows=rows, stages=STAGES, stage_label=stage_label)


@vendor.route("/tenants/<slug>")
@operator_required
def tenant(slug):
    found = _tenant(slug)
    target = next_stage(found.stage)
    checks = run_gate(found, target) if target else []
    history = db.session.scalars(
        select(StageChange).where(StageChange.tenant_id == found.id).order_by(StageChange.at.desc(), StageChange.id.desc())
    ).all()
    sign_offs = db.session.scalars(select(SignOff).where(SignOff.tenant_id == found.id).order_by(SignOff.signed_at.desc())).all()
    send_back_form = SendBackForm()
    send_back_form.to_stage.choices = [(s, stage_label(s)) for s in STAGES[: STAGES.index(found.stage)]]
    from core.delivery.acceptance import latest_run
    from core.delivery.stages import configuration_digest

    return render_template(
        "vendor/tenant.html", t=found, target=target, checks=checks, history=history, sign_offs=sign_offs,
        stages=STAGES, stage_label=stage_label, action_form=ActionForm(), send_back_form=send_back_form, sign_off_form=SignOffForm(),
        acceptance=latest_run(found), configuration_digest=configuration_digest(found),
    )


@vendor.route("/tenants/<slug>/advance", methods=["POST"])
@operator_required
def tenant_advance(slug):
    found = _tenant(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        moved, target, checks = advance(found, actor=g.operator.name)
    except StageError as exc:
        flash(str(exc), "error")
    else:
        if moved:
            flash(_("%(name)s moved to %(stage)s.", name=found.name, stage=stage_label(target)), "success")
        else:
            failed = sum(1 for c in checks if not c.passed)
            flash(_("The %(stage)s gate did not pass: %(count)d check(s) failed.", stage=stage_label(target),
                    count=failed), "error")
    return redirect(url_for("vendor.tenant", slug=slug))


@vendor.route("/tenants/<slug>/send-back", methods=["POST"])
@operator_required
def tenant_send_back(slug):
    found = _tenant(slug)
    form = SendBackForm()
    form.to_stage.choices = [(s, stage_label(s)) for s in STAGES[: STAGES.index(found.stage)]]
    if form.validate_on_submit():
        try:
            send_back(found, form.to_stage.data, actor=g.operator.name, reason=form.reason.data)
            flash(_("%(name)s sent back to %(stage)s.", name=found.name, stage=stage_label(form.to_stage.data)), "success")
        except StageError as exc:
            flash(str(exc), "error")
    else:
        flash(_("Choose an earlier stage and give a reason."), "error")
    return redirect(url_for("vendor.tenant", slug=slug))


@vendor.route("/tenants/<slug>/sign-off", methods=["POST"])
@operator_required
def tenant_sign_off(slug):
    found = _tenant(slug)
    form = SignOffForm()
    if form.validate_on_submit():
        try:
            record_sign_off(found, form.signed_by.data, recorded_by=g.operator.name)
            flash(_("Sign-off recorded."), "success")
        except StageError as exc:
            flash(str(exc), "error")
    else:
        flash(_("The signatory's name is required."), "error")
    return redirect(url_for("vendor.tenant", slug=slug))


@vendor.route("/tenants/<slug>/manuals", methods=["POST"])
@operator_required
def tenant_manuals(slug):
    from core.delivery.manuals import generate_manuals

    found = _tenant(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    generate_manuals(found)
    flash(_("Manuals generated."), "success")
    return redirect(url_for("vendor.tenant", slug=slug))


@vendor.route("/tenants/<slug>/accept", methods=["POST"])
@operator_required
def tenant_accept(slug):
    from core.delivery.acceptance import AlreadyRunning, start_acceptance
    from core.i18n import current_locale

    found = _tenant(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:  # the run's texts are written in this page's language, whoever's worker runs it
        run = start_acceptance(found, actor=g.operator.name, locale=current_locale())
    except AlreadyRunning as running:
        flash(_("The acceptance suite is running already (run %(id)d, started %(when)s).", id=running.run.id,
                when=format_datetime(running.run.started_at, "short")), "error")
        return redirect(url_for("vendor.tenant", slug=slug))
    except Exception as exc:  # noqa: BLE001 - shown to the operator; nothing of the tenant's was touched
        flash(_("The acceptance suite could not run: %(error)s", error=str(exc) or type(exc).__name__), "error")
        return redirect(url_for("vendor.tenant", slug=slug))
    if run.finished_at is None:
        flash(_("The acceptance suite is running on a worker; this page shows the result when it is done."), "success")
        return redirect(url_for("vendor.tenant", slug=slug))
    passed = sum(1 for s in run.scenarios if s["passed"])
    if run.passed:
        flash(_("The acceptance suite passed: %(passed)d of %(count)d checks.", passed=passed, count=len(run.scenarios)), "success")
    else:
        flash(_("The acceptance suite failed: %(passed)d of %(count)d checks passed.", passed=passed, count=len(run.scenarios)), "error")
    return redirect(url_for("vendor.tenant", slug=slug))


@vendor.route("/tenants/<slug>/seed", methods=["POST"])
@operator_required
def tenant_seed(slug):
    from core.delivery.demo import seed_tenant
    from core.tenancy import tenant_context

    found = _tenant(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with tenant_context(found):
            notices, seeded = seed_tenant(found)
            db.session.commit()
    except Exception as exc:  # noqa: BLE001 - shown to the operator; the seed cleared what it made
        db.session.rollback()
        flash(_("Seeding failed, nothing was kept: %(error)s", error=str(exc) or type(exc).__name__), "error")
        return redirect(url_for("vendor.tenant", slug=slug))
    if seeded.skipped:
        flash(_("%(count)d notices; no demo listings: %(reason)s.", count=notices, reason=seeded.skipped), "error")
    elif seeded.created:
        flash(_("Demo data seeded: %(notices)d notices, %(count)d listings.", notices=notices, count=seeded.listings), "success")
    else:
        flash(_("Demo data was already there: %(count)d listings.", count=seeded.listings), "success")
    return redirect(url_for("vendor.tenant", slug=slug))
