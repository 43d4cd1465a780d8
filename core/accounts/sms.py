"""SMS texts and the tenant's SMS provider.

The provider is the one named in ``tenant.yaml`` under ``providers.sms``,
found in the plugin registry and built with its settings. Texts come from
``security.sms_templates`` in ``tenant.yaml`` when the tenant reworded them,
else from :data:`DEFAULT_TEMPLATES`, in the recipient's locale.
"""
from __future__ import annotations

import logging

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from core.accounts.identity import mask_mobile
from core.accounts.policy import security_settings
from core.sms import SmsError, SmsProvider, SmsReceipt

log = logging.getLogger("lendkit.sms")

#: Texts per template and locale. Placeholders: see ``SecuritySchema`` in core/tenancy/config.py.
DEFAULT_TEMPLATES = {
    "otp": {
        "en": "[{brand}] Your code for {purpose} is {code}. It expires in {minutes} minutes. Never share it with anyone.",
        "zh_CN": "【{brand}】您正在{purpose}，验证码 {code}，{minutes}分钟内有效。请勿向任何人透露。",
    },
    "money_moved": {
        "en": "[{brand}] {direction} {amount} on your account ({what}) at {time}. Not you? Call customer service.",
        "zh_CN": "【{brand}】您的账户于{time}{direction}{amount}（{what}）。如非本人操作，请联系客服。",
    },
}

#: What each code is for, as the text names it.
PURPOSE_NAMES = {
    "register": _l("registration"),
    "login": _l("sign-in"),
    "reset_password": _l("password reset"),
    "change_mobile_old": _l("changing your mobile number"),
    "change_mobile_new": _l("confirming your new mobile number"),
}


def sms_provider(tenant) -> SmsProvider:
    """The tenant's SMS provider, built from ``providers.sms`` in its ``tenant.yaml``."""
    from core.plugins import provider_registry

    choice = tenant.config["providers"]["sms"]
    cls = provider_registry()["sms"][choice["name"]]
    return cls(choice.get("settings") or {}, tenant_slug=tenant.slug)


def template_text(tenant, name: str, locale: str) -> str:
    custom = security_settings(tenant)["sms_templates"].get(name) or {}
    defaults = DEFAULT_TEMPLATES[name]
    return custom.get(locale) or defaults.get(locale) or custom.get(tenant.default_locale) or defaults["en"]


def render(tenant, name: str, locale: str, **values) -> str:
    locale = locale if locale in DEFAULT_TEMPLATES[name] else tenant.default_locale
    with force_locale(locale):
        values = {key: str(value) for key, value in values.items()}
        if "purpose" in values and values["purpose"] in PURPOSE_NAMES:
            values["purpose"] = str(PURPOSE_NAMES[values["purpose"]])
    values.setdefault("brand", tenant.name)
    return template_text(tenant, name, locale).format_map(values)


def send_text(tenant, mobile: str, text: str) -> SmsReceipt:
    """Send one text; :class:`SmsError` passes through (logged with the number masked)."""
    try:
        return sms_provider(tenant).send(mobile, text)
    except SmsError as exc:
        log.warning("sms to %s for %s failed: %s", mask_mobile(mobile), tenant.slug, type(exc).__name__)
        raise
