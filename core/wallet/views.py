"""Wallet pages (``/wallet``) and API (``/api/v1/wallet``).

Money-moving POSTs are idempotent: the API requires an ``Idempotency-Key``
header (the same key again returns the first outcome, never moves money
twice); each page form carries its own key. A withdrawal needs the
transaction password.
"""
from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.accounts.access import current_principal, requires
from core.accounts.policy import AccountRefused
from core.accounts.profile import verify_transaction_password
from core.api import Blueprint as ApiBlueprint
from core.money import from_minor, to_minor
from core.wallet import service
from core.web.nav import nav_item

pages = Blueprint("wallet", __name__, url_prefix="/wallet")
blp = ApiBlueprint("wallet_api", __name__, url_prefix="/api/v1/wallet", description="Balances, deposits, withdrawals and history")
PAGE_SIZE = 50


# ------------------------------------------------------------------ shared


def _filters(args) -> dict:
    problems = {}
    kind = args.get("kind") or None
    if kind and kind not in service.HISTORY_KINDS:
        problems["kind"] = [f"must be one of {', '.join(service.HISTORY_KINDS)}"]
    dates = {}
    for name in ("since", "until"):
        value = args.get(name) or None
        if value:
            try:
                dates[name] = date.fromisoformat(value)
            except ValueError:
                problems[name] = ["must be a date YYYY-MM-DD"]
    return {"kind": kind, **dates, "problems": problems}


def _csv_response(user_id: int, filters: dict) -> Response:
    lines = service.history(user_id, kind=filters["kind"], since=filters.get("since"), until=filters.get("until"))
    return Response(service.history_csv(lines), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="transactions-{date.today().isoformat()}.csv"'})


# ------------------------------------------------------------------- pages


@pages.route("")
@requires()
def home():
    user = current_principal()
    filters = _filters(request.args)
    for field, messages in filters["problems"].items():
        flash(f"{field}: {messages[0]}", "error")
    page = max(int(request.args.get("page", 1) or 1) if str(request.args.get("page", "1")).isdigit() else 1, 1)
    lines = [] if filters["problems"] else service.history(
        user.id, kind=filters["kind"], since=filters.get("since"), until=filters.get("until"), limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "wallet/home.html", balances=service.balances(user.id), lines=lines[:PAGE_SIZE], more=len(lines) > PAGE_SIZE,
        page=page, filters=filters, kinds=service.KIND_LABELS, states=service.STATE_LABELS, form_key=uuid.uuid4().hex,
    )


def _major(value: str, currency: str) -> int:
    try:
        amount = to_minor(Decimal((value or "").strip().replace(",", "")), currency)
    except (InvalidOperation, ValueError, TypeError):
        raise service.WalletRefused("amount", _l("Enter an amount such as 100.00."))
    if amount <= 0:
        raise service.WalletRefused("amount", _l("The amount must be more than zero."))
    return amount


@pages.route("/deposit", methods=["POST"])
@requires()
def deposit():
    user = current_principal()
    try:
        amount = _major(request.form.get("amount", ""), g.tenant.currency)
        instruction = service.deposit(user.id, amount, request.form.get("key") or uuid.uuid4().hex)
    except service.WalletRefused as exc:
        flash(str(exc.message), "error")
    else:
        if instruction.state == "confirmed":
            flash(_("%(amount)s is now in your custody account.", amount=_fmt(amount)), "success")
        else:
            flash(_("Your deposit of %(amount)s is with the bank; your balance shows it once the bank confirms.",
                    amount=_fmt(amount)), "success")
    return redirect(url_for("wallet.home"))


@pages.route("/withdraw", methods=["POST"])
@requires()
def withdraw():
    user = current_principal()
    try:
        amount = _major(request.form.get("amount", ""), g.tenant.currency)
        if not verify_transaction_password(user, request.form.get("transaction_password", "")):
            raise service.WalletRefused("transaction_password", _l("The transaction password is not correct."))
        instruction = service.withdraw(user.id, amount, request.form.get("key") or uuid.uuid4().hex)
    except service.WalletRefused as exc:
        flash(str(exc.message), "error")
    except AccountRefused as exc:
        flash(str(exc.message), "error")
    else:
        if instruction.state == "confirmed":
            flash(_("%(amount)s is on its way to your bank card.", amount=_fmt(amount)), "success")
        else:
            flash(_("Your withdrawal of %(amount)s is with the bank and set aside from your available funds until "
                    "the bank confirms it.", amount=_fmt(amount)), "success")
    return redirect(url_for("wallet.home"))


@pages.route("/transactions.csv")
@requires()
def history_csv():
    filters = _filters(request.args)
    if filters["problems"]:
        flash(_("Fix the filters first."), "error")
        return redirect(url_for("wallet.home"))
    return _csv_response(current_principal().id, filters)


def _fmt(amount: int) -> str:
    from core.i18n import money

    return money(amount)


# --------------------------------------------------------------------- API


class WalletAmountSchema(Schema):
    amount = fields.Int(required=True, strict=True, validate=validate.Range(min=1), metadata={"description": "Minor units (fen, cents)"})
    currency = fields.Str(required=True)


class DepositSchema(Schema):
    amount = fields.Nested(WalletAmountSchema, required=True)

    @validates_schema
    def _currency(self, data, **kwargs):
        if data["amount"]["currency"] != g.tenant.currency:
            raise ValidationError(f"must be {g.tenant.currency}", "amount")


class WithdrawalSchema(DepositSchema):
    transaction_password = fields.Str(required=True, load_only=True)


class BalancesSchema(Schema):
    available = fields.Method("_available")
    frozen = fields.Method("_frozen")
    pending_out = fields.Method("_pending_out")
    pending_in = fields.Method("_pending_in")

    def _money(self, value, obj):
        return {"amount": value, "currency": obj.currency}

    def _available(self, obj):
        return self._money(obj.available, obj)

    def _frozen(self, obj):
        return self._money(obj.frozen, obj)

    def _pending_out(self, obj):
        return self._money(obj.pending_out, obj)

    def _pending_in(self, obj):
        return self._money(obj.pending_in, obj)


class InstructionSchema(Schema):
    request_no = fields.Str()
    kind = fields.Str()
    state = fields.Str(metadata={"description": "created, sent, confirmed, refused or unknown (the bank is asked later)"})
    amount = fields.Method("_amount")

    def _amount(self, obj):
        return {"amount": obj.body.get("amount"), "currency": obj.body.get("currency")}


class HistoryLineSchema(Schema):
    at = fields.AwareDateTime()
    kind = fields.Str()
    state = fields.Str()
    bucket = fields.Str(metadata={"description": "available or frozen"})
    amount = fields.Method("_amount", metadata={"description": "Positive: in; negative: out"})
    request_no = fields.Str(allow_none=True)

    def _amount(self, obj):
        return {"amount": obj.amount, "currency": obj.currency}


class HistoryQuerySchema(Schema):
    kind = fields.Str(validate=validate.OneOf(service.HISTORY_KINDS))
    since = fields.Date()
    until = fields.Date()
    format = fields.Str(validate=validate.OneOf(("json", "csv")), load_default="json")


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 100:
        abort(400, message="An Idempotency-Key header (1 to 100 characters) is required on money-moving requests.",
              errors={"Idempotency-Key": ["required"]})
    return key


def _refused(exc: service.WalletRefused):
    abort(exc.status, message=str(exc.message), errors={"code": [exc.code]})


@blp.route("")
class Wallet(MethodView):
    @requires()
    @blp.response(200, BalancesSchema)
    def get(self):
        """The signed-in user's balances"""
        found = service.balances(current_principal().id)
        if found is None:
            abort(409, message=str(_l("Bind a bank card first: it opens your custody account.")))
        return found


@blp.route("/deposits")
class Deposits(MethodView):
    @requires()
    @blp.arguments(DepositSchema)
    @blp.response(201, InstructionSchema)
    def post(self, body):
        """Deposit from the bound bank card (needs an Idempotency-Key header)"""
        key = _idempotency_key()
        try:
            return service.deposit(current_principal().id, body["amount"]["amount"], key)
        except service.WalletRefused as exc:
            _refused(exc)


@blp.route("/withdrawals")
class Withdrawals(MethodView):
    @requires()
    @blp.arguments(WithdrawalSchema)
    @blp.response(201, InstructionSchema)
    def post(self, body):
        """Withdraw to the bound bank card (Idempotency-Key header and transaction password)"""
        key = _idempotency_key()
        user = current_principal()
        try:
            if not verify_transaction_password(user, body["transaction_password"]):
                abort(403, message=str(_l("The transaction password is not correct.")), errors={"transaction_password": ["wrong"]})
            return service.withdraw(user.id, body["amount"]["amount"], key)
        except AccountRefused as exc:
            abort(exc.status, message=str(exc.message), errors={"code": [exc.code]})
        except service.WalletRefused as exc:
            _refused(exc)


@blp.route("/transactions")
class Transactions(MethodView):
    @requires()
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, HistoryLineSchema(many=True))
    def get(self, args):
        """Money movements on the user's accounts, newest first (``format=csv`` for a file)"""
        user = current_principal()
        if args.get("format") == "csv":
            return _csv_response(user.id, {"kind": args.get("kind"), "since": args.get("since"), "until": args.get("until")})
        return service.history(user.id, kind=args.get("kind"), since=args.get("since"), until=args.get("until"), limit=500)


def _signed_in() -> bool:
    return current_principal() is not None


nav_item("wallet.home", _l("Wallet"), order=40, when=_signed_in, active_prefix="wallet.")
