"""``/api/v1/auth`` (codes, registration, tokens, password reset) and ``/api/v1/me`` (the caller's account).

The API authenticates with ``Authorization: Bearer <token>`` from
``POST /api/v1/auth/tokens`` and never reads the session cookie.
"""
from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import abort

from core.accounts import cards, kyc, profile, registration
from core.accounts.access import api_user, public, requires
from core.accounts.limits import code_limits, login_limits, register_limits
from core.accounts.policy import AccountRefused
from core.accounts.schemas import (
    BankCardSchema,
    BindCardSchema,
    CodeRequestSchema,
    EnterpriseKycFormSchema,
    KycApplicationSchema,
    KycStatusSchema,
    LoginSchema,
    MobileChangeSchema,
    MobileCodeSchema,
    PasswordChangeSchema,
    PersonKycFormSchema,
    RegisterSchema,
    ResetSchema,
    RolesSchema,
    SentCodeSchema,
    TokenSchema,
    TransactionPasswordSchema,
    UserSchema,
)
from core.accounts.signin import check_password_login, check_totp, close_session, open_session
from core.api import API_PREFIX, Blueprint
from core.extensions import db
from core.i18n import current_locale

auth_blp = Blueprint("auth", __name__, description="Registration, sign-in tokens, SMS codes, password reset")
me_blp = Blueprint("me", __name__, description="The signed-in user's account, KYC and bank cards")


def refuse(refusal: AccountRefused):
    """Answer a service's refusal with the API error body."""
    db.session.rollback()
    kwargs = {"message": str(refusal.message)}
    if refusal.field:
        kwargs["errors"] = {refusal.field: [str(refusal.message)]}
    if refusal.retry_after:
        kwargs["headers"] = {"Retry-After": str(refusal.retry_after)}
    abort(refusal.status, **kwargs)


def _ip() -> str:
    return request.remote_addr or ""


# ------------------------------------------------------------------ /auth


@auth_blp.route("/codes")
class Codes(MethodView):
    @public
    @code_limits
    @auth_blp.arguments(CodeRequestSchema)
    @auth_blp.response(202, SentCodeSchema)
    def post(self, args):
        """Send an SMS code for registration or password reset"""
        send = registration.send_register_code if args["purpose"] == "register" else registration.send_reset_code
        try:
            return send(g.tenant, args["mobile"], ip=_ip(), locale=current_locale())
        except AccountRefused as refusal:
            refuse(refusal)


@auth_blp.route("/register")
class Register(MethodView):
    @public
    @register_limits
    @auth_blp.arguments(RegisterSchema)
    @auth_blp.response(201, UserSchema)
    def post(self, args):
        """Register with a mobile number, its SMS code and a password"""
        try:
            return registration.register(g.tenant, locale=current_locale(), **args)
        except AccountRefused as refusal:
            refuse(refusal)


@auth_blp.route("/tokens")
class Tokens(MethodView):
    @public
    @login_limits
    @auth_blp.arguments(LoginSchema)
    @auth_blp.response(201, TokenSchema)
    def post(self, args):
        """Sign in: a bearer token for the API (staff also give an authenticator code)"""
        try:
            user = check_password_login(g.tenant, args["mobile"], args["password"])
            second_factor = False
            if user.is_staff:
                if not user.totp_enrolled:
                    raise AccountRefused("totp", "totp_not_enrolled",
                                         _l("Set up two-factor sign-in on the staff pages first."), status=403)
                if not args.get("totp"):
                    raise AccountRefused("totp", "totp_required", _l("Staff must give the authenticator code."), status=401)
                check_totp(g.tenant, user, args["totp"])
                second_factor = True
        except AccountRefused as refusal:
            refuse(refusal)
        token = open_session(g.tenant, user, kind="api", second_factor=second_factor, ip=_ip())
        return {"token": token, "token_type": "Bearer", "expires_at": user.auth_session.expires_at, "user": user}


@auth_blp.route("/tokens/current")
class CurrentToken(MethodView):
    @requires()
    @auth_blp.response(204)
    def delete(self):
        """Sign out: revoke the token of this request"""
        close_session(api_user().auth_session)


@auth_blp.route("/password-reset")
class PasswordReset(MethodView):
    @public
    @register_limits
    @auth_blp.arguments(ResetSchema)
    @auth_blp.response(204)
    def post(self, args):
        """Set a new password with a reset_password SMS code (signs out every session)"""
        try:
            registration.reset_password(g.tenant, **args)
        except AccountRefused as refusal:
            refuse(refusal)


# ------------------------------------------------------------------ /me


@me_blp.route("")
class Me(MethodView):
    @requires()
    @me_blp.response(200, UserSchema)
    def get(self):
        """The signed-in user (mobile masked)"""
        return api_user()


@me_blp.route("/roles")
class MyRoles(MethodView):
    @requires()
    @me_blp.arguments(RolesSchema)
    @me_blp.response(200, UserSchema)
    def put(self, args):
        """Choose to borrow, invest, or both"""
        try:
            profile.choose_roles(api_user(), args["roles"])
        except AccountRefused as refusal:
            refuse(refusal)
        return api_user()


@me_blp.route("/password")
class MyPassword(MethodView):
    @requires()
    @me_blp.arguments(PasswordChangeSchema)
    @me_blp.response(204)
    def post(self, args):
        """Change the login password (other sessions are signed out)"""
        user = api_user()
        try:
            profile.change_password(user, current=args["current_password"], new=args["new_password"], keep_session=user.auth_session)
        except AccountRefused as refusal:
            refuse(refusal)


@me_blp.route("/transaction-password")
class MyTransactionPassword(MethodView):
    @requires()
    @me_blp.arguments(TransactionPasswordSchema)
    @me_blp.response(204)
    def post(self, args):
        """Set or change the transaction password (must differ from the login password)"""
        try:
            profile.set_transaction_password(api_user(), login_password=args["login_password"], new=args["transaction_password"])
        except AccountRefused as refusal:
            refuse(refusal)


@me_blp.route("/mobile/codes")
class MyMobileCodes(MethodView):
    @requires()
    @code_limits
    @me_blp.arguments(MobileCodeSchema)
    @me_blp.response(202, SentCodeSchema)
    def post(self, args):
        """Send the code for a mobile number change: to the current number (old) or the new one (new)"""
        try:
            return profile.send_change_mobile_code(g.tenant, api_user(), args["which"], args.get("new_mobile"), ip=_ip())
        except AccountRefused as refusal:
            refuse(refusal)


@me_blp.route("/mobile")
class MyMobile(MethodView):
    @requires()
    @me_blp.arguments(MobileChangeSchema)
    @me_blp.response(200, UserSchema)
    def post(self, args):
        """Change the mobile number with the codes sent to the old and the new number"""
        try:
            profile.change_mobile(g.tenant, api_user(), **args)
        except AccountRefused as refusal:
            refuse(refusal)
        return api_user()


@me_blp.route("/kyc")
class MyKyc(MethodView):
    @requires()
    @me_blp.response(200, KycStatusSchema)
    def get(self):
        """Identity verification status and the newest application (masked)"""
        application = kyc.latest_application(api_user())
        return {"status": application.status if application else "none", "application": application}


@me_blp.route("/kyc/person")
class MyKycPerson(MethodView):
    @requires()
    @me_blp.arguments(PersonKycFormSchema, location="form")
    @me_blp.response(201, KycApplicationSchema)
    @me_blp.doc(description="multipart/form-data with real_name, id_number and the images id_front, id_back, id_holding (JPEG or PNG)")
    def post(self, args):
        """Verify a person: real name, identity number and three photos"""
        try:
            return kyc.submit_person(g.tenant, api_user(), real_name=args["real_name"], id_number=args["id_number"],
                                     photos={name: request.files.get(name) for name in kyc.PERSON_DOCUMENTS})
        except AccountRefused as refusal:
            refuse(refusal)


@me_blp.route("/kyc/enterprise")
class MyKycEnterprise(MethodView):
    @requires()
    @me_blp.arguments(EnterpriseKycFormSchema, location="form")
    @me_blp.response(201, KycApplicationSchema)
    @me_blp.doc(description="multipart/form-data with company_name, uscc, legal_representative and the image business_licence")
    def post(self, args):
        """Verify an enterprise: name, unified social credit code, legal representative, business licence"""
        try:
            return kyc.submit_enterprise(g.tenant, api_user(), licence=request.files.get("business_licence"), **args)
        except AccountRefused as refusal:
            refuse(refusal)


@me_blp.route("/bank-cards")
class MyBankCards(MethodView):
    @requires()
    @me_blp.response(200, BankCardSchema(many=True))
    def get(self):
        """Bound bank cards (masked)"""
        return cards.cards_of(api_user())

    @requires()
    @me_blp.arguments(BindCardSchema)
    @me_blp.response(201, BankCardSchema)
    def post(self, args):
        """Bind a bank card (identity verified first); opens the custody sub-account"""
        try:
            return cards.bind_card(g.tenant, api_user(), number=args["card_number"], bank_name=args["bank_name"])
        except AccountRefused as refusal:
            refuse(refusal)


__all__ = ["auth_blp", "me_blp", "API_PREFIX"]
