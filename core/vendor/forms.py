from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    code = StringField(_l("Code from your authenticator app"), validators=[DataRequired(), Length(6, 6)])


class ActionForm(FlaskForm):
    """A bare form: its CSRF token protects the one-button actions."""


class SendBackForm(FlaskForm):
    to_stage = SelectField(_l("Back to stage"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class SignOffForm(FlaskForm):
    signed_by = StringField(_l("Signed by (the client's signatory)"), validators=[DataRequired(), Length(max=200)])
