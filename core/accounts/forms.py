"""The accounts and staff pages' forms (Flask-WTF; CSRF comes from CSRFProtect on every POST).

Fields carry labels and light checks only; the services validate and their
refusals are shown next to the field they name (:func:`show_refusal`).
"""
from __future__ import annotations

from flask import flash
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, PasswordField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget


try:  # WTForms 3.3+: choices as SelectChoice (tuples are deprecated there)
    from wtforms.fields.choices import SelectChoice as _Choice
except ImportError:  # older WTForms take (value, label) tuples
    def _Choice(value, label):
        return (value, label)


def _choices(pairs):
    return [_Choice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def customer_role_choices():
    return _choices([("borrower", _l("Borrow")), ("investor", _l("Invest"))])


def staff_role_choices():
    return _choices([
        ("tenant_admin", _l("Tenant administrator")),
        ("reviewer", _l("Reviewer")),
        ("risk_officer", _l("Risk officer")),
        ("finance", _l("Finance")),
        ("support", _l("Customer support")),
    ])


class RegisterForm(FlaskForm):
    mobile = StringField(_l("Mobile number"))
    code = StringField(_l("SMS code"))
    password = PasswordField(_l("Password"))
    password_confirm = PasswordField(_l("Repeat the password"))
    kind = RadioField(_l("Account type"), choices=_choices([("person", _l("Personal")), ("enterprise", _l("Enterprise"))]), default="person")
    roles = MultiCheckboxField(_l("I want to"), choices=customer_role_choices(), default=["investor"])
    accept_terms = BooleanField(_l("I have read and accept the terms of service and the privacy policy"))


class LoginForm(FlaskForm):
    mobile = StringField(_l("Mobile number"))
    password = PasswordField(_l("Password"))


class TwoFactorForm(FlaskForm):
    code = StringField(_l("Authenticator code"))


class ResetForm(FlaskForm):
    mobile = StringField(_l("Mobile number"))
    code = StringField(_l("SMS code"))
    password = PasswordField(_l("New password"))
    password_confirm = PasswordField(_l("Repeat the new password"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"))
    new_password = PasswordField(_l("New password"))
    confirm_password = PasswordField(_l("Repeat the new password"))


class TransactionPasswordForm(FlaskForm):
    login_password = PasswordField(_l("Login password"))
    transaction_password = PasswordField(_l("Transaction password"))
    confirm_password = PasswordField(_l("Repeat the transaction password"))


class ChangeMobileForm(FlaskForm):
    old_code = StringField(_l("Code sent to your current number"))
    new_mobile = StringField(_l("New mobile number"))
    new_code = StringField(_l("Code sent to the new number"))


class RolesForm(FlaskForm):
    roles = MultiCheckboxField(_l("I want to"), choices=customer_role_choices())


class PersonKycForm(FlaskForm):
    real_name = StringField(_l("Real name"))
    id_number = StringField(_l("Resident identity number"))
    id_front = FileField(_l("Identity card, front (photo side)"))
    id_back = FileField(_l("Identity card, back (national emblem side)"))
    id_holding = FileField(_l("Photo of you holding the card"))


class EnterpriseKycForm(FlaskForm):
    company_name = StringField(_l("Company name"))
    uscc = StringField(_l("Unified social credit code"))
    legal_representative = StringField(_l("Legal representative"))
    business_licence = FileField(_l("Business licence"))


class BankCardForm(FlaskForm):
    card_number = StringField(_l("Bank card number"))
    bank_name = StringField(_l("Bank"))


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (sign out, approve, reveal…)."""


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason shown to the applicant"))


class StaffRolesForm(FlaskForm):
    roles = MultiCheckboxField(_l("Staff roles"), choices=staff_role_choices())


class LookupForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Mobile number, identity number or user number"))


def show_refusal(form, refusal) -> None:
    """Put a service's refusal next to the field it names, else in a message at the top."""
    field = getattr(form, refusal.field, None) if refusal.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors or ()) + [refusal.message]
    else:
        flash(refusal.message, "error")
