"""Validation messages in the reader's language: marshmallow's own defaults through Flask-Babel.

The schemas of ``tenant.yaml`` and of the admin console
(:mod:`core.tenancy.config`, :mod:`core.lending.products`,
:mod:`core.credit.settings`, :mod:`core.configuration.service`) derive from
:class:`Schema` below. When a field is bound to one (marshmallow's documented
``on_bind_field`` hook), every message that is still marshmallow's English
default — the field's own ("Not a valid integer.", "Missing data for required
field.") and its validators' ("Must be greater than or equal to {min}.") — is
replaced by the same text through ``lazy_gettext``; the schema's own
("Unknown field.") likewise.

A message is translated when the error is raised: in a request, into the
page's locale (:func:`core.i18n.select_locale`); in the CLI with no tenant
bound, English — so ``lendkit tenant sync`` prints what it always printed.
Errors hold plain ``str``: a lazy string never leaves validation, so messages
can go into JSON, an exception's text or the audit log as they are.

Messages a schema writes itself are wrapped where they are written: ``_l`` in
a validator's ``error=`` (the validator ``.format()``s it when it fails, which
renders it in the current locale), ``gettext`` with ``%(name)s`` placeholders
in code that runs during validation.
"""
from __future__ import annotations

import re

import marshmallow
from flask_babel import lazy_gettext as _l

__all__ = ["FIELD_MESSAGES", "SCHEMA_MESSAGES", "VALIDATOR_MESSAGES", "Schema", "sentence", "translate_field"]

#: marshmallow's default field messages (``Field.default_error_messages`` of the
#: field classes lendkit's schemas use), keyed by their English text.
FIELD_MESSAGES = {
    "Missing data for required field.": _l("Missing data for required field."),
    "Field may not be null.": _l("Field may not be null."),
    "Invalid value.": _l("Invalid value."),
    "Invalid type.": _l("Invalid type."),
    "Not a valid string.": _l("Not a valid string."),
    "Not a valid utf-8 string.": _l("Not a valid utf-8 string."),
    "Not a valid number.": _l("Not a valid number."),
    "Number too large.": _l("Number too large."),
    "Not a valid integer.": _l("Not a valid integer."),
    "Not a valid boolean.": _l("Not a valid boolean."),
    "Not a valid list.": _l("Not a valid list."),
    "Not a valid mapping type.": _l("Not a valid mapping type."),
    "Not a valid email address.": _l("Not a valid email address."),
}

#: marshmallow's default validator messages, as a validator instance holds them
#: (``Range`` fills its comparison words in when it is created).
VALIDATOR_MESSAGES = {
    "Not a valid email address.": _l("Not a valid email address."),
    "Must be greater than or equal to {min}.": _l("Must be greater than or equal to {min}."),
    "Must be less than or equal to {max}.": _l("Must be less than or equal to {max}."),
    "Must be greater than or equal to {min} and less than or equal to {max}.":
        _l("Must be greater than or equal to {min} and less than or equal to {max}."),
    "Must be greater than {min}.": _l("Must be greater than {min}."),
    "Must be less than {max}.": _l("Must be less than {max}."),
    "Shorter than minimum length {min}.": _l("Shorter than minimum length {min}."),
    "Longer than maximum length {max}.": _l("Longer than maximum length {max}."),
    "Length must be between {min} and {max}.": _l("Length must be between {min} and {max}."),
    "Length must be {equal}.": _l("Length must be {equal}."),
    "String does not match expected pattern.": _l("String does not match expected pattern."),
    "Must be one of: {choices}.": _l("Must be one of: {choices}."),
    "Invalid input.": _l("Invalid input."),
}

#: marshmallow's schema-level messages (``Schema._default_error_messages``).
SCHEMA_MESSAGES = {
    "Unknown field.": _l("Unknown field."),
    "Invalid input type.": _l("Invalid input type."),
}

#: Attributes of marshmallow's validators that hold a message.
_VALIDATOR_ATTRIBUTES = ("error", "message_min", "message_max", "message_all", "message_equal")


class _Messages(dict):
    """An ``error_messages`` dict whose lazy strings come out as text in the current locale.

    marshmallow formats a field's message only when it is a ``str``
    (``Field.make_error``), and stores a schema's as it is; rendering on
    lookup keeps both working and keeps lazy strings out of the errors.
    """

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return value if isinstance(value, (str, bytes)) else str(value)


def _translated(messages: dict, catalog: dict) -> _Messages:
    return _Messages({key: catalog.get(text, text) if isinstance(text, str) else text for key, text in messages.items()})


def translate_field(field: marshmallow.fields.Field) -> None:
    """Route ``field``'s default messages, its validators' and those of the fields inside it through Flask-Babel."""
    field.error_messages = _translated(field.error_messages, FIELD_MESSAGES)
    for validator in field.validators:
        for attribute in _VALIDATOR_ATTRIBUTES:
            text = getattr(validator, attribute, None)
            if isinstance(text, str) and text in VALIDATOR_MESSAGES:
                setattr(validator, attribute, VALIDATOR_MESSAGES[text])
    inner = [getattr(field, name, None) for name in ("inner", "key_field", "value_field")]
    inner.extend(getattr(field, "tuple_fields", None) or ())
    for child in inner:
        if isinstance(child, marshmallow.fields.Field):
            translate_field(child)


class Schema(marshmallow.Schema):
    """A marshmallow schema whose built-in messages are translated (see the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_messages = _translated(self.error_messages, SCHEMA_MESSAGES)

    def on_bind_field(self, field_name: str, field_obj: marshmallow.fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        translate_field(field_obj)


_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def sentence(text) -> str:
    """``text`` ending with one full stop: ``"."`` after English, ``"。"`` after Chinese.

    ``"is above max_amount"`` → ``"is above max_amount."``; ``"高于最高借款金额"`` →
    ``"高于最高借款金额。"``; a text that already ends with its stop is kept.
    """
    text = str(text).rstrip()
    if _CJK.search(text) and not re.search(r"[A-Za-z]$", text):
        return text.rstrip(".。") + "。"
    return text.rstrip(".") + "."
