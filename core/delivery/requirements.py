"""The requirements questionnaire a client fills in before anything is built.

``docs/delivery.md`` documents the format; ``scaffolding/tenant/example-requirements.yaml``
is a complete example. :func:`check_requirements` reports **every** problem at
once — missing answers, bad values and answers that contradict each other —
so the vendor goes back to the client once, not ten times.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from core.lending.products import BORROWER_TYPES, ProductSchema, product_problems
from core.tenancy.config import (
    COLOR_RE,
    FONT_RE,
    HOST_RE,
    SLUG_RE,
    SUPPORTED_LOCALES,
    LocalizedText,
    ProvidersSchema,
    flatten_errors,
)

STAFF_ROLES = ("tenant_admin", "reviewer", "risk_officer", "finance", "support")
COMPLIANCE_PACKS_KNOWN = ("cn-2016", "none")
#: cn-2016 caps on one platform, in fen, per borrower type (2016 interim measures, art. 17).
CN_2016_PLATFORM_CAPS = {"person": 20_000_000, "enterprise": 100_000_000}


class RequirementsError(Exception):
    """The questionnaire is incomplete or contradictory; ``problems`` lists every issue."""

    def __init__(self, path, problems: dict[str, str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{self.path}: {len(problems)} problem(s)")

    def lines(self) -> list[str]:
        return [f"{field}: {problem}" for field, problem in self.problems.items()]


class ClientSchema(Schema):
    class Meta:
        unknown = RAISE

    slug = fields.Str(required=True, validate=validate.Regexp(SLUG_RE, error="must be lower-case letters, digits and hyphens"))
    brand_name = fields.Str(required=True, validate=validate.Length(1, 200))
    legal_name = fields.Str(required=True, validate=validate.Length(1, 200))
    registration_number = fields.Str(load_default="")
    icp_number = fields.Str(load_default="")
    support_phone = fields.Str(load_default="")
    support_email = fields.Email(load_default="")
    address = fields.Str(load_default="")


class SiteSchema(Schema):
    class Meta:
        unknown = RAISE

    hosts = fields.List(fields.Str(validate=validate.Regexp(HOST_RE, error="is not a valid host name")), required=True, validate=validate.Length(min=1, error="must list at least one host"))
    default_locale = fields.Str(required=True, validate=validate.OneOf(SUPPORTED_LOCALES))
    locales = fields.List(fields.Str(validate=validate.OneOf(SUPPORTED_LOCALES)), load_default=None)
    currency = fields.Str(required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code such as CNY"))
    timezone = fields.Str(load_default="UTC")
    theme = fields.Str(load_default="default")


class BrandSchema(Schema):
    class Meta:
        unknown = RAISE

    primary_color = fields.Str(required=True, validate=validate.Regexp(COLOR_RE, error="must be a colour like #1a2b3c"))
    accent_color = fields.Str(required=True, validate=validate.Regexp(COLOR_RE, error="must be a colour like #1a2b3c"))
    background_color = fields.Str(load_default="#f6f7f9", validate=validate.Regexp(COLOR_RE, error="must be a colour like #1a2b3c"))
    text_color = fields.Str(load_default="#1d2430", validate=validate.Regexp(COLOR_RE, error="must be a colour like #1a2b3c"))
    font_family = fields.Str(load_default="system-ui, sans-serif", validate=validate.Regexp(FONT_RE, error="may hold only font names, quotes, commas and hyphens"))
    #: Path of an SVG or PNG logo, relative to the questionnaire; left out, a monogram is drawn.
    logo = fields.Str(load_default=None)
    hero_title = LocalizedText(load_default=dict)
    tagline = LocalizedText(load_default=dict)


class LendingSchema(Schema):
    class Meta:
        unknown = RAISE

    borrower_types = fields.List(fields.Str(validate=validate.OneOf(BORROWER_TYPES)), required=True, validate=validate.Length(min=1))
    compliance = fields.Str(required=True)
    reserve_pays_investors = fields.Bool(load_default=False)
    products = fields.List(fields.Nested(ProductSchema), required=True, validate=validate.Length(min=1, error="must list at least one product"))


class StaffSchema(Schema):
    class Meta:
        unknown = RAISE

    role = fields.Str(required=True, validate=validate.OneOf(STAFF_ROLES))
    name = fields.Str(required=True)
    mobile = fields.Str(required=True)


class RequirementsSchema(Schema):
    class Meta:
        unknown = RAISE

    client = fields.Nested(ClientSchema, required=True)
    site = fields.Nested(SiteSchema, required=True)
    brand = fields.Nested(BrandSchema, required=True)
    lending = fields.Nested(LendingSchema, required=True)
    providers = fields.Nested(ProvidersSchema, required=True)
    staff = fields.List(fields.Nested(StaffSchema), load_default=list)

    @validates("staff")
    def _staff(self, value, **kwargs):
        mobiles = [s["mobile"] for s in value]
        if len(set(mobiles)) != len(mobiles):
            raise ValidationError("lists a mobile number twice")


def _contradictions(q: dict, folder: Path, tenants_dir: Path, registry, taken_hosts: dict[str, str]) -> dict[str, str]:
    """Answers that are each valid but do not fit together."""
    problems: dict[str, str] = {}
    site, lending, brand = q["site"], q["lending"], q["brand"]
    slug = q["client"]["slug"]
    locales = site["locales"] or [site["default_locale"]]
    if site["default_locale"] not in locales:
        problems["site.locales"] = f"must include the default locale {site['default_locale']}"
    if (tenants_dir / slug).exists():
        problems["client.slug"] = f"tenant folder tenants/{slug} already exists"
    for index, host in enumerate(site["hosts"]):
        owner = taken_hosts.get(host.lower())
        if owner and owner != slug:
            problems[f"site.hosts.{index}"] = f"{host} already serves tenant {owner!r}"
    if lending["compliance"] not in COMPLIANCE_PACKS_KNOWN:
        problems["lending.compliance"] = f"unknown compliance pack {lending['compliance']!r} (known: {', '.join(COMPLIANCE_PACKS_KNOWN)})"
    cn = lending["compliance"] == "cn-2016"
    if cn and site["currency"] != "CNY":
        problems["site.currency"] = "cn-2016 applies to lending in CNY; the currency is " + site["currency"]
    if cn and lending["reserve_pays_investors"]:
        problems["lending.reserve_pays_investors"] = (
            "cn-2016 forbids the platform from guaranteeing investors' principal or interest, "
            "so the risk reserve cannot pay investors"
        )
    codes = [p["code"] for p in lending["products"]]
    for index, product in enumerate(lending["products"]):
        where = f"lending.products.{index}"
        if codes.count(product["code"]) > 1:
            problems[f"{where}.code"] = f"product code {product['code']!r} is used twice"
        if product["borrower_type"] not in lending["borrower_types"]:
            problems[f"{where}.borrower_type"] = (
                f"{product['borrower_type']} is not among lending.borrower_types ({', '.join(lending['borrower_types'])})"
            )
        for field, problem in product_problems(product).items():
            problems[f"{where}.{field}"] = problem
        cap = CN_2016_PLATFORM_CAPS.get(product["borrower_type"])
        if cn and cap is not None and product["max_amount"] > cap:
            problems[f"{where}.max_amount"] = (
                f"cn-2016 caps what a {product['borrower_type']} may owe on one platform at "
                f"CNY {cap // 100:,}; the product allows {product['max_amount'] // 100:,}"
            )
    if brand["logo"]:
        logo = folder / brand["logo"]
        if logo.suffix.lower() not in (".svg", ".png"):
            problems["brand.logo"] = "must be an .svg or .png file"
        elif not logo.is_file():
            problems["brand.logo"] = f"file {brand['logo']} not found next to the questionnaire"
    for family in ("custody", "sms", "credit_bureau"):
        choice = q["providers"][family]
        provider = registry.get(family, {}).get(choice["name"])
        if provider is None:
            names = ", ".join(sorted(registry.get(family, {}))) or "none installed"
            problems[f"providers.{family}.name"] = f"no provider named {choice['name']!r} (available: {names})"
            continue
        for field, problem in flatten_errors(provider.settings_schema().validate(choice["settings"]), f"providers.{family}.settings").items():
            problems[field] = problem
    roles = {s["role"] for s in q["staff"]}
    if q["staff"] and "tenant_admin" not in roles:
        problems["staff"] = "must name at least one tenant_admin"
    return problems


def check_requirements(path: Path, tenants_dir: Path, registry, taken_hosts: dict[str, str]) -> dict:
    """Load and check the questionnaire at ``path``; raise :class:`RequirementsError` listing every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RequirementsError(path, {"(file)": "not found"}) from None
    except yaml.YAMLError as exc:
        raise RequirementsError(path, {"(file)": f"not valid YAML: {exc}".splitlines()[0]}) from None
    if not isinstance(raw, dict):
        raise RequirementsError(path, {"(file)": "must be a mapping of answers"})
    try:
        q = RequirementsSchema().load(raw)
    except ValidationError as exc:
        problems = flatten_errors(exc.messages)
        # Still look for contradictions among the answers that did load.
        raise RequirementsError(path, problems) from None
    problems = _contradictions(q, path.parent, tenants_dir, registry, taken_hosts)
    if problems:
        raise RequirementsError(path, problems)
    q["site"]["locales"] = q["site"]["locales"] or [q["site"]["default_locale"]]
    return q
