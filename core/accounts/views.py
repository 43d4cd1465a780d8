"""The user's pages: register, sign in and out, reset, account settings, KYC and bank cards."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user

from core.accounts import cards, kyc, profile, registration
from core.accounts.access import current_principal, public, requires, sign_out_browser
from core.accounts.forms import (
    BankCardForm,
    ChangeMobileForm,
    ChangePasswordForm,
    ConfirmForm,
    EnterpriseKycForm,
    LoginForm,
    PersonKycForm,
    RegisterForm,
    ResetForm,
    RolesForm,
    TransactionPasswordForm,
    TwoFactorForm,
    show_refusal,
)
from core.accounts.limits import code_limits, login_limits, register_limits
from core.accounts.models import User
from core.accounts.policy import AccountRefused
from core.accounts.roles import role_label
from core.accounts.signin import (
    check_password_login,
    check_totp,
    close_session,
    open_session,
    provisioning_uri,
    start_totp_enrolment,
)
from core.extensions import db
from core.i18n import current_locale
from core.web.nav import nav_item

accounts = Blueprint("accounts", __name__, url_prefix="/accounts")
accounts.add_app_template_global(role_label)

#: A password-checked staff member has this long to give the TOTP code.
PENDING_SECONDS = 300


def _signed_in() -> bool:
    return current_principal() is not None


def _signed_out() -> bool:
    return current_principal() is None


nav_item("accounts.login", _l("Sign in"), order=80, when=_signed_out, active_prefix="accounts.login")
nav_item("accounts.register", _l("Register"), order=81, when=_signed_out, active_prefix="accounts.register")
nav_item("accounts.overview", _l("My account"), order=80, when=_signed_in, active_prefix="accounts.")


def _ip() -> str:
    return request.remote_addr or ""


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: ``/accounts/kyc``, never ``//evil.example`` or a full URL."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target.rstrip("?") or None


def _sign_in(user: User, *, second_factor: bool):
    """Open a new session (a fresh cookie: the old one's contents are dropped) and sign in."""
    locale = session.get("locale")
    session.clear()
    token = open_session(g.tenant, user, kind="web", second_factor=second_factor, ip=_ip())
    session["tenant_id"] = g.tenant.id
    if locale:
        session["locale"] = locale
    user._session_token = token
    login_user(user)


def _after_sign_in(user: User, target: str | None):
    target = _safe_next(target)
    if target:
        return redirect(target)
    if user.is_staff:
        return redirect(url_for("staff.dashboard"))
    return redirect(url_for(".overview"))


# ---------------------------------------------------------------- registration


@accounts.route("/register", methods=["GET", "POST"])
@public
@code_limits
@register_limits
def register():
    if _signed_in():
        return redirect(url_for(".overview"))
    form = RegisterForm()
    if request.method == "POST":
        action = request.form.get("action", "submit")
        try:
            if action == "send_code":
                sent = registration.send_register_code(g.tenant, form.mobile.data, ip=_ip(), locale=current_locale())
                flash(_("We sent a code to %(mobile)s. Enter it below within %(minutes)d minutes.",
                        mobile=sent.masked_mobile, minutes=_minutes(sent)), "success")
            else:
                user = registration.register(
                    g.tenant, mobile=form.mobile.data, code=form.code.data, password=form.password.data,
                    password_confirm=form.password_confirm.data, kind=form.kind.data, roles=form.roles.data,
                    accept_terms=form.accept_terms.data, locale=current_locale(),
                )
                _sign_in(user, second_factor=False)
                flash(_("Welcome! Your account is ready. Next, verify your identity."), "success")
                return redirect(url_for(".kyc_start"))
        except AccountRefused as refusal:
            show_refusal(form, refusal)
    return render_template("accounts/register.html", form=form)


def _minutes(sent) -> int:
    from core.accounts.policy import now

    return max(1, round((sent.expires_at - now()).total_seconds() / 60))


# ---------------------------------------------------------------- sign in / out


@accounts.route("/login", methods=["GET", "POST"])
@public
@login_limits
def login():
    if _signed_in() and not request.args.get("next"):
        return redirect(url_for(".overview"))
    form = LoginForm()
    target = request.values.get("next")
    if request.method == "POST":
        try:
            user = check_password_login(g.tenant, form.mobile.data, form.password.data)
        except AccountRefused as refusal:
            show_refusal(form, refusal)
        else:
            if user.is_staff:
                db.session.commit()
                locale = session.get("locale")
                session.clear()
                if locale:
                    session["locale"] = locale
                session["pending_2fa"] = {"user": user.id, "tenant": g.tenant.id, "at": int(time.time()), "next": _safe_next(target)}
                if user.totp_sealed is None:
                    return redirect(url_for(".totp_setup"))
                return redirect(url_for(".two_factor"))
            _sign_in(user, second_factor=False)
            return _after_sign_in(user, target)
    return render_template("accounts/login.html", form=form, next=_safe_next(target))


def _pending_user() -> tuple[User | None, str | None]:
    """The staff member who passed the password step (or is signed in without the second factor)."""
    pending = session.get("pending_2fa")
    if pending and pending.get("tenant") == g.tenant.id and time.time() - pending.get("at", 0) <= PENDING_SECONDS:
        return db.session.get(User, pending["user"]), pending.get("next")
    if current_user.is_authenticated and current_user.is_staff and not current_user.auth_session.second_factor:
        return current_user._get_current_object(), _safe_next(request.args.get("next"))
    return None, None


@accounts.route("/login/two-factor", methods=["GET", "POST"])
@public
@login_limits
def two_factor():
    user, target = _pending_user()
    if user is None:
        flash(_("Please sign in again."), "warning")
        return redirect(url_for(".login"))
    if user.totp_sealed is None:
        return redirect(url_for(".totp_setup"))
    form = TwoFactorForm()
    if request.method == "POST":
        try:
            check_totp(g.tenant, user, form.code.data, confirming=not user.totp_enrolled)
        except AccountRefused as refusal:
            show_refusal(form, refusal)
            if refusal.code == "locked":
                session.pop("pending_2fa", None)
        else:
            if current_user.is_authenticated:
                close_session(current_user.auth_session)
            _sign_in(user, second_factor=True)
            return _after_sign_in(user, target)
    return render_template("accounts/two_factor.html", form=form)


@accounts.route("/login/two-factor/setup", methods=["GET", "POST"])
@public
@login_limits
def totp_setup():
    """First sign-in of a staff member without an authenticator: show the key, confirm with a code."""
    user, target = _pending_user()
    if user is None:
        flash(_("Please sign in again."), "warning")
        return redirect(url_for(".login"))
    if user.totp_enrolled or (user.totp_sealed is not None and not session.get("totp_setup")):
        return redirect(url_for(".two_factor"))
    if user.totp_sealed is None:
        start_totp_enrolment(g.tenant, user)
        db.session.commit()
        session["totp_setup"] = user.id
    form = TwoFactorForm()
    if request.method == "POST":
        try:
            check_totp(g.tenant, user, form.code.data, confirming=True)
        except AccountRefused as refusal:
            show_refusal(form, refusal)
        else:
            session.pop("totp_setup", None)
            if current_user.is_authenticated:
                close_session(current_user.auth_session)
            _sign_in(user, second_factor=True)
            return _after_sign_in(user, target)
    uri = provisioning_uri(g.tenant, user)
    return render_template("accounts/totp_setup.html", form=form, uri=uri, secret=_secret_of(uri), qr_svg=_qr_svg(uri))


def _secret_of(uri: str) -> str:
    from urllib.parse import parse_qs

    secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _qr_svg(uri: str) -> str | None:
    try:
        import segno
    except ImportError:  # the key in text is enough
        return None
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, title="QR")


@accounts.route("/logout", methods=["GET", "POST"])
@requires()
def logout():
    form = ConfirmForm()
    if request.method == "POST":
        if current_user.is_authenticated and current_user.auth_session is not None:
            close_session(current_user.auth_session)
        sign_out_browser()
        flash(_("You have signed out."), "success")
        return redirect(url_for("site.home"))
    return render_template("accounts/logout.html", form=form)


# ---------------------------------------------------------------- password reset


@accounts.route("/reset", methods=["GET", "POST"])
@public
@code_limits
@register_limits
def reset():
    form = ResetForm()
    if request.method == "POST":
        action = request.form.get("action", "submit")
        try:
            if action == "send_code":
                sent = registration.send_reset_code(g.tenant, form.mobile.data, ip=_ip(), locale=current_locale())
                flash(_("We sent a code to %(mobile)s. Enter it below within %(minutes)d minutes.",
                        mobile=sent.masked_mobile, minutes=_minutes(sent)), "success")
            else:
                registration.reset_password(g.tenant, mobile=form.mobile.data, code=form.code.data,
                                            password=form.password.data, password_confirm=form.password_confirm.data)
                flash(_("Your password was changed. Please sign in with the new password."), "success")
                return redirect(url_for(".login"))
        except AccountRefused as refusal:
            show_refusal(form, refusal)
    return render_template("accounts/reset.html", form=form)


# ---------------------------------------------------------------- the account


@accounts.route("/")
@requires()
def overview():
    user = current_user
    roles_form = RolesForm(roles=sorted(user.role_names & {"borrower", "investor"}))
    return render_template(
        "accounts/overview.html",
        user=user,
        kyc_application=kyc.latest_application(user),
        cards=cards.cards_of(user),
        roles_form=roles_form,
        logout_form=ConfirmForm(),
    )


@accounts.route("/roles", methods=["POST"])
@requires()
def roles():
    form = RolesForm()
    try:
        profile.choose_roles(current_user, form.roles.data)
        flash(_("Saved."), "success")
    except AccountRefused as refusal:
        flash(refusal.message, "error")
    return redirect(url_for(".overview"))


@accounts.route("/password", methods=["GET", "POST"])
@requires()
def password():
    form = ChangePasswordForm()
    if request.method == "POST":
        try:
            profile.change_password(current_user, current=form.current_password.data, new=form.new_password.data,
                                    confirm=form.confirm_password.data, keep_session=current_user.auth_session)
            flash(_("Your password was changed. Other devices were signed out."), "success")
            return redirect(url_for(".overview"))
        except AccountRefused as refusal:
            show_refusal(form, refusal)
    return render_template("accounts/password.html", form=form)


@accounts.route("/transaction-password", methods=["GET", "POST"])
@requires()
def transaction_password():
    form = TransactionPasswordForm()
    if request.method == "POST":
        try:
            profile.set_transaction_password(current_user, login_password=form.login_password.data,
                                             new=form.transaction_password.data, confirm=form.confirm_password.data)
            flash(_("Your transaction password was saved."), "success")
            return redirect(url_for(".overview"))
        except AccountRefused as refusal:
            show_refusal(form, refusal)
    return render_template("accounts/transaction_password.html", form=form)


@accounts.route("/mobile", methods=["GET", "POST"])
@requires()
@code_limits
def mobile():
    form = ChangeMobileForm()
    if request.method == "POST":
        action = request.form.get("action", "submit")
        try:
            if action in ("send_old", "send_new"):
                which = "old" if action == "send_old" else "new"
                sent = profile.send_change_mobile_code(g.tenant, current_user, which, form.new_mobile.data, ip=_ip())
                flash(_("We sent a code to %(mobile)s. Enter it below within %(minutes)d minutes.",
                        mobile=sent.masked_mobile, minutes=_minutes(sent)), "success")
            else:
                profile.change_mobile(g.tenant, current_user, old_code=form.old_code.data,
                                      new_mobile=form.new_mobile.data, new_code=form.new_code.data)
                flash(_("Your mobile number was changed. Sign in with the new number from now on."), "success")
                return redirect(url_for(".overview"))
        except AccountRefused as refusal:
            show_refusal(form, refusal)
    return render_template("accounts/mobile.html", form=form, user=current_user)


# ---------------------------------------------------------------- KYC and bank cards


@accounts.route("/kyc")
@requires()
def kyc_start():
    application = kyc.latest_application(current_user)
    return render_template("accounts/kyc.html", application=application, user=current_user)


@accounts.route("/kyc/person", methods=["GET", "POST"])
@requires()
def kyc_person():
    form = PersonKycForm()
    if request.method == "POST":
        try:
            kyc.submit_person(g.tenant, current_user, real_name=form.real_name.data, id_number=form.id_number.data,
                              photos={name: request.files.get(name) for name in kyc.PERSON_DOCUMENTS})
            flash(_("Thank you. Your identity was confirmed by the credit bureau and is now waiting for review."), "success")
            return redirect(url_for(".kyc_start"))
        except AccountRefused as refusal:
            show_refusal(form, refusal)
    return render_template("accounts/kyc_person.html", form=form, status=kyc.kyc_status(current_user))


@accounts.route("/kyc/enterprise", methods=["GET", "POST"])
@requires()
def kyc_enterprise():
    form = EnterpriseKycForm()
    if request.method == "POST":
        try:
            kyc.submit_enterprise(g.tenant, current_user, company_name=form.company_name.data, uscc=form.uscc.data,
                                  legal_representative=form.legal_representative.data,
                                  licence=request.files.get("business_licence"))
            flash(_("Thank you. Your company's details are waiting for review."), "success")
            return redirect(url_for(".kyc_start"))
        except AccountRefused as refusal:
            show_refusal(form, refusal)
    return render_template("accounts/kyc_enterprise.html", form=form, status=kyc.kyc_status(current_user))


@accounts.route("/bank-cards", methods=["GET", "POST"])
@requires()
def bank_cards():
    form = BankCardForm()
    if request.method == "POST":
        try:
            cards.bind_card(g.tenant, current_user, number=form.card_number.data, bank_name=form.bank_name.data)
            flash(_("Your card was bound. Your custody account is being opened at the bank."), "success")
            return redirect(url_for(".bank_cards"))
        except AccountRefused as refusal:
            show_refusal(form, refusal)
    return render_template("accounts/bank_cards.html", form=form, cards=cards.cards_of(current_user),
                           verified=kyc.is_verified(current_user))
