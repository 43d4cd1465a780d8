"""``tenants/<slug>/tenant.yaml``: the validated configuration of one tenant.

The schema below is the reference for the file's format (``docs/tenants.md``
walks through an example). Provider settings are validated by the schema the
chosen provider plugin supplies, so a typo in a bank's ``base_url`` is caught
when the tenant is loaded, not on the first deposit.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from babel import Locale
from babel.numbers import get_currency_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, ValidationError, fields, validate, validates, validates_schema

from core.credit.settings import CreditSchema
from core.i18n_validation import Schema, sentence

SUPPORTED_LOCALES = ("en", "zh_CN")
SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
HOST_RE = r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
COLOR_RE = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
#: Font stacks reach CSS: only names, quotes, commas, spaces and hyphens.
FONT_RE = r"^[A-Za-z0-9 ,'\"\-\u4e00-\u9fff]{1,200}$"

PROVIDER_FAMILIES = {
    "custody": "custody bank",
    "sms": "SMS provider",
    "credit_bureau": "credit bureau",
}
#: The problem of a provider name that no plugin registers, per family (translated when raised).
NO_SUCH_PROVIDER = {
    "custody": _l("no custody bank named %(name)s (available: %(names)s)"),
    "sms": _l("no SMS provider named %(name)s (available: %(names)s)"),
    "credit_bureau": _l("no credit bureau named %(name)s (available: %(names)s)"),
}


class TenantConfigError(Exception):
    """``tenant.yaml`` is invalid. ``str()`` is one line: file, field and problem."""

    def __init__(self, path, problems: dict[str, str]):
        self.path = _display_path(path)
        self.problems = problems
        detail = "; ".join(f"{field}: {problem}" for field, problem in problems.items())
        super().__init__(f"{self.path}: {detail}")


def _display_path(path) -> str:
    """The path relative to the working directory when it lies below it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class LocalizedText(fields.Dict):
    """A text per locale: ``{en: "…", zh_CN: "…"}``; a plain string serves every locale."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.Str(validate=validate.OneOf(SUPPORTED_LOCALES)), values=fields.Str(), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = {locale: value for locale in SUPPORTED_LOCALES}
        return super()._deserialize(value, attr, data, **kwargs)


class BrandingSchema(Schema):
    class Meta:
        unknown = RAISE

    primary_color = fields.Str(required=True, validate=validate.Regexp(COLOR_RE, error=_l("must be a colour like #1a2b3c")))
    accent_color = fields.Str(required=True, validate=validate.Regexp(COLOR_RE, error=_l("must be a colour like #1a2b3c")))
    background_color = fields.Str(load_default="#f6f7f9", validate=validate.Regexp(COLOR_RE, error=_l("must be a colour like #1a2b3c")))
    text_color = fields.Str(load_default="#1d2430", validate=validate.Regexp(COLOR_RE, error=_l("must be a colour like #1a2b3c")))
    font_family = fields.Str(load_default="system-ui, sans-serif", validate=validate.Regexp(FONT_RE, error=_l("may hold only font names, quotes, commas and hyphens")))
    #: Path of the logo inside the tenant folder (SVG or PNG).
    logo = fields.Str(required=True, validate=validate.Regexp(r"^static/[\w./-]+\.(svg|png)$", error=_l("must be a .svg or .png under static/")))
    tagline = LocalizedText(load_default=dict)
    hero_title = LocalizedText(load_default=dict)


class ProviderChoiceSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.Str(required=True)
    settings = fields.Dict(keys=fields.Str(), load_default=dict)


class ProvidersSchema(Schema):
    class Meta:
        unknown = RAISE

    custody = fields.Nested(ProviderChoiceSchema, required=True)
    sms = fields.Nested(ProviderChoiceSchema, required=True)
    credit_bureau = fields.Nested(ProviderChoiceSchema, required=True)


class CompanySchema(Schema):
    class Meta:
        unknown = RAISE

    legal_name = fields.Str(required=True, validate=validate.Length(1, 200))
    registration_number = fields.Str(load_default="")
    #: ICP filing number shown in the footer of sites served in China.
    icp_number = fields.Str(load_default="")
    support_phone = fields.Str(load_default="")
    support_email = fields.Email(load_default="")
    address = fields.Str(load_default="")


class SecuritySchema(Schema):
    """``security``: sign-in lockout, staff sessions, one-time codes and SMS texts (docs/accounts.md)."""

    class Meta:
        unknown = RAISE

    #: Failed sign-ins in a row that lock an account (at most 10).
    lockout_threshold = fields.Int(load_default=5, validate=validate.Range(1, 10))
    #: How long a locked account stays locked (at least 30 minutes).
    lockout_minutes = fields.Int(load_default=30, validate=validate.Range(30, 24 * 60))
    #: A staff session ends after this many idle minutes.
    staff_idle_minutes = fields.Int(load_default=15, validate=validate.Range(1, 240))
    #: A customer's session ends this many hours after sign-in.
    session_hours = fields.Int(load_default=12, validate=validate.Range(1, 24 * 30))
    #: A one-time code is valid this many minutes (at most 10).
    otp_ttl_minutes = fields.Int(load_default=5, validate=validate.Range(1, 10))
    #: Wrong tries that burn a one-time code (at most 5).
    otp_max_tries = fields.Int(load_default=5, validate=validate.Range(1, 5))
    #: Seconds before another code may be sent to the same number for the same purpose.
    otp_resend_seconds = fields.Int(load_default=60, validate=validate.Range(10, 3600))
    #: Codes a mobile number may receive in 24 hours.
    otp_daily_per_mobile = fields.Int(load_default=10, validate=validate.Range(1, 100))
    #: Codes one IP address may request in 24 hours.
    otp_daily_per_ip = fields.Int(load_default=50, validate=validate.Range(1, 10000))
    #: SMS texts per template name (``otp``, ``money_moved``) and locale; see docs/accounts.md.
    sms_templates = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(("otp", "money_moved"), error=_l("must be one of: {choices}"))),
        values=LocalizedText(),
        load_default=dict,
    )

    @validates("sms_templates")
    def _placeholders(self, value, **kwargs):
        import string

        allowed = {"otp": {"brand", "code", "minutes", "purpose"}, "money_moved": {"brand", "amount", "direction", "what", "time", "account"}}
        for name, texts in value.items():
            for locale, text in texts.items():
                try:
                    used = {field for _text, field, _spec, _conversion in string.Formatter().parse(text) if field is not None}
                except ValueError as exc:
                    raise ValidationError(f"{name}.{locale}: {exc}") from None  # Python's own words
                unknown = used - allowed[name]
                if unknown:
                    raise ValidationError(_("%(where)s: unknown placeholder %(placeholder)s; use %(allowed)s",
                                            where=f"{name}.{locale}", placeholder="{" + sorted(unknown)[0] + "}",
                                            allowed=", ".join("{" + a + "}" for a in sorted(allowed[name]))))
                if name == "otp" and "code" not in used:
                    raise ValidationError(_("%(where)s: must contain {code}", where=f"otp.{locale}"))


class RiskSchema(Schema):
    """``risk``: how the platform handles borrowers' defaults (docs/credit.md)."""

    class Meta:
        unknown = RAISE

    #: The risk reserve pays investors when a borrower is late (垫付). Refused under cn-2016.
    reserve_pays_investors = fields.Bool(load_default=False)


class TenantConfigSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True

    slug = fields.Str(required=True, validate=validate.Regexp(SLUG_RE, error=_l("must be lower-case letters, digits and hyphens")))
    name = fields.Str(required=True, validate=validate.Length(1, 200))
    company = fields.Nested(CompanySchema, required=True)
    hosts = fields.List(fields.Str(validate=validate.Regexp(HOST_RE, error=_l("is not a valid host name"))), required=True, validate=validate.Length(min=1, error=_l("must list at least one host")))
    default_locale = fields.Str(required=True, validate=validate.OneOf(SUPPORTED_LOCALES, error=_l("must be one of: {choices}")))
    locales = fields.List(fields.Str(validate=validate.OneOf(SUPPORTED_LOCALES, error=_l("must be one of: {choices}"))), load_default=None)
    currency = fields.Str(required=True)
    timezone = fields.Str(load_default="UTC")
    theme = fields.Str(load_default="default", validate=validate.Regexp(SLUG_RE, error=_l("must be a theme folder name")))
    branding = fields.Nested(BrandingSchema, required=True)
    providers = fields.Nested(ProvidersSchema, required=True)
    credit = fields.Nested(CreditSchema, load_default=lambda: CreditSchema().load({}))
    #: Compliance rule pack (core.credit.compliance): ``cn-2016`` or ``none``.
    compliance = fields.Str(load_default="none")
    risk = fields.Nested(RiskSchema, load_default=lambda: RiskSchema().load({}))
    security = fields.Nested(SecuritySchema, load_default=lambda: SecuritySchema().load({}))
    #: Loan products borrowers can apply for (core.lending.products.ProductSchema, also the questionnaire's).
    products = fields.Function(deserialize=lambda value: _lending_products().load_products(value), load_default=list)

    @validates("currency")
    def _currency(self, value, **kwargs):
        if not re.fullmatch(r"[A-Z]{3}", value) or get_currency_name(value, locale="en") == value:
            raise ValidationError(_("must be an ISO 4217 currency code such as CNY or USD"))

    @validates("timezone")
    def _timezone(self, value, **kwargs):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(_("unknown time zone %(name)s", name=repr(value))) from None

    @validates_schema
    def _locales(self, data, **kwargs):
        locales = data.get("locales")
        if locales is not None and data.get("default_locale") not in locales:
            raise ValidationError(_("must include default_locale"), "locales")


def _lending_products():
    from core.lending import products  # imported late: it uses LocalizedText from this module

    return products


def flatten_errors(messages, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested error dict → ``{"branding.primary_color": "…"}``."""
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "(file)"
            flat.update(flatten_errors(value, name))
    elif isinstance(messages, list) and all(not isinstance(m, (dict, list)) for m in messages):
        flat[prefix or "(file)"] = " ".join(sentence(m) for m in messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            flat.update(flatten_errors(value, f"{prefix}[{index}]"))
    else:
        flat[prefix or "(file)"] = str(messages)
    return flat


@dataclass(frozen=True)
class LoadedTenant:
    """A tenant folder whose ``tenant.yaml`` passed validation."""

    folder: Path
    config: dict
    digest: str


def load_tenant_folder(folder: Path, provider_registry=None) -> LoadedTenant:
    """Read and validate ``folder/tenant.yaml``; raise :class:`TenantConfigError`.

    ``provider_registry`` maps a family (``custody``, ``sms``,
    ``credit_bureau``) to ``{name: provider class}``; each chosen provider's
    ``settings_schema`` validates its settings.
    """
    path = folder / "tenant.yaml"
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise TenantConfigError(path, {"(file)": _("not found")}) from None
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise TenantConfigError(path, {where: _("not valid YAML: %(problem)s", problem=getattr(exc, "problem", exc))}) from None
    if not isinstance(raw, dict):
        raise TenantConfigError(path, {"(file)": _("must be a mapping of settings")})
    try:
        config = TenantConfigSchema().load(raw)
    except ValidationError as exc:
        raise TenantConfigError(path, flatten_errors(exc.messages)) from None

    problems: dict[str, str] = {}
    if config["slug"] != folder.name:
        problems["slug"] = _("must equal the folder name %(name)s", name=repr(folder.name))
    logo = folder / config["branding"]["logo"]
    if not logo.is_file():
        problems["branding.logo"] = _("file %(path)s not found in the tenant folder", path=config["branding"]["logo"])
    config["hosts"] = [h.lower() for h in config["hosts"]]
    if len(set(config["hosts"])) != len(config["hosts"]):
        problems["hosts"] = _("lists a host twice")
    if config["locales"] is None:
        config["locales"] = [config["default_locale"]]
    if provider_registry is not None:
        for family in PROVIDER_FAMILIES:
            choice = config["providers"][family]
            available = provider_registry.get(family, {})
            provider = available.get(choice["name"])
            field = f"providers.{family}"
            if provider is None:
                names = ", ".join(sorted(available)) or _("none installed")
                problems[f"{field}.name"] = str(NO_SUCH_PROVIDER[family]) % {"name": repr(choice["name"]), "names": names}
                continue
            errors = provider.settings_schema().validate(choice["settings"])
            if errors:
                problems.update(flatten_errors(errors, f"{field}.settings"))
        themes = _registered_theme_names()
        if themes is not None and config["theme"] not in themes:
            problems["theme"] = _("no theme named %(name)s (available: %(names)s)",
                                  name=repr(config["theme"]), names=", ".join(sorted(themes)))
        from core.credit.compliance import config_problems  # the chosen pack exists and accepts the config

        problems.update(config_problems(config))
    if problems:
        raise TenantConfigError(path, problems)
    Locale.parse(config["default_locale"])
    return LoadedTenant(folder=folder, config=config, digest=hashlib.sha256(raw_bytes).hexdigest())


def _registered_theme_names() -> set[str] | None:
    """The themes the running app registered (``register_themes``), or None outside an app."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    themes = current_app.extensions.get("lendkit_themes")
    return set(themes) if themes is not None else None


def tenant_folders(tenants_dir: Path) -> list[Path]:
    """Every folder under ``tenants_dir`` holding a ``tenant.yaml``, by name."""
    if not tenants_dir.is_dir():
        return []
    return sorted(p for p in tenants_dir.iterdir() if (p / "tenant.yaml").is_file())
