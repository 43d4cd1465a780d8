"""Save, roll back and apply versions of the editable configuration sections.

Sections and what a version holds:

``branding``
    ``tenant.yaml``'s ``branding`` mapping (plus the ``site`` pseudo-section:
    name and default locale).
``products``
    ``{"products": [...]}``, the loan products (:class:`core.lending.products.ProductSchema`).
``rules``
    ``{"credit": {...}, "risk": {...}}``, the lending rules
    (:class:`core.credit.settings.CreditSchema`, :class:`core.tenancy.config.RiskSchema`).

Every save is checked by the schemas that check ``tenant.yaml`` and then by
the tenant's compliance pack, recorded in the audit log, and applied at once.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, ValidationError, fields, validate
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.audit import audit
from core.configuration.models import BrandAsset, ConfigVersion
from core.credit.settings import CreditSchema
from core.extensions import db
from core.i18n_validation import Schema, sentence
from core.tenancy.config import BrandingSchema, RiskSchema, flatten_errors
from core.tenancy.models import Tenant
from core.tenancy.scoping import ALL_TENANTS

MAX_LOGO_BYTES = 512 * 1024
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": ("image/png", "png"), b"\xff\xd8\xff": ("image/jpeg", "jpg")}
UPLOAD_LOGO_RE = r"^(static/[\w./-]+\.(svg|png)|upload/[0-9a-f]{64}\.(png|jpg))$"


class ConfigurationError(Exception):
    """A section could not be saved; ``problems`` maps each field to what is wrong."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


class EditableBrandingSchema(BrandingSchema):
    """tenant.yaml's branding, with logos uploaded in the console allowed too."""

    logo = fields.Str(required=True, validate=validate.Regexp(UPLOAD_LOGO_RE, error=_l("must be a logo file of this tenant")))


class RulesSchema(Schema):
    """The lending rules: ``credit`` and ``risk`` of tenant.yaml, by the very schemas the file uses."""

    class Meta:
        unknown = RAISE

    credit = fields.Nested(CreditSchema, required=True)
    risk = fields.Nested(RiskSchema, required=True)


class ProductsSchema(Schema):
    """The loan products: ``products`` of tenant.yaml, loaded by the same function as the file's."""

    class Meta:
        unknown = RAISE

    products = fields.Function(deserialize=lambda value: _load_products(value), required=True)


def _load_products(value):
    from core.lending.products import load_products

    return load_products(value)


#: Section name → the schema that validates it (the same rules as tenant.yaml).
SECTIONS = {"branding": EditableBrandingSchema, "products": ProductsSchema, "rules": RulesSchema}
#: Section name → the tenant.yaml keys a version of it holds; None: the version is that key's value itself.
SECTION_KEYS = {"branding": None, "products": ("products",), "rules": ("credit", "risk")}
#: Top-level fields the console may change besides sections: the site's name and default locale.
SITE_FIELDS = ("name", "default_locale")


def _current(tenant: Tenant, section: str) -> ConfigVersion | None:
    return db.session.scalar(
        select(ConfigVersion)
        .where(ConfigVersion.tenant_id == tenant.id, ConfigVersion.section == section)
        .order_by(ConfigVersion.number.desc())
        .execution_options(**{ALL_TENANTS: True})
    )


def history(tenant: Tenant, section: str) -> list[ConfigVersion]:
    return list(
        db.session.scalars(
            select(ConfigVersion)
            .where(ConfigVersion.tenant_id == tenant.id, ConfigVersion.section == section)
            .order_by(ConfigVersion.number.desc())
            .execution_options(**{ALL_TENANTS: True})
        )
    )


def apply_overrides(tenant: Tenant, config: dict) -> dict:
    """``config`` (from tenant.yaml) with the tenant's current console versions on top."""
    merged = copy.deepcopy(config)
    for section in list(SECTIONS) + ["site"]:
        current = _current(tenant, section) if tenant.id is not None else None
        if current is None or current.data is None:
            continue
        if section == "site":
            merged.update({k: v for k, v in current.data.items() if k in SITE_FIELDS})
        elif SECTION_KEYS[section] is None:
            merged[section] = current.data
        else:
            merged.update({k: current.data[k] for k in SECTION_KEYS[section] if k in current.data})
    return merged


def section_value(config: dict, section: str):
    """What a version of ``section`` holds, taken from a whole (loaded) configuration."""
    keys = SECTION_KEYS[section]
    if keys is None:
        return copy.deepcopy(config.get(section))
    return {key: copy.deepcopy(config.get(key)) for key in keys}


def _actor_label(actor) -> str:
    """``user:7 139****0001``: who saved, readable in the history and kept if the user is removed."""
    if isinstance(actor, str):
        return actor
    masked = getattr(actor, "masked_mobile", "")
    return f"{actor.audit_label} {masked}".strip()[:200]


def _apply(tenant: Tenant) -> None:
    """Recompute ``tenant.config`` (and its mirrored columns) from the file config plus overrides.

    The file config is read from the row as it is now, not from the object: a sync may have loaded a new
    ``tenant.yaml`` since this session read the tenant (which :mod:`core.kept` keeps across commits).
    """
    file_config = db.session.scalar(select(Tenant.file_config).where(Tenant.id == tenant.id))
    merged = apply_overrides(tenant, file_config or tenant.config)
    tenant.config = merged
    tenant.name = merged["name"]
    tenant.default_locale = merged["default_locale"]


def _save(tenant: Tenant, section: str, data, actor: str, action: str, note: str = "") -> ConfigVersion:
    number = (
        db.session.scalar(
            select(func.max(ConfigVersion.number))
            .where(ConfigVersion.tenant_id == tenant.id, ConfigVersion.section == section)
            .execution_options(**{ALL_TENANTS: True})
        )
        or 0
    ) + 1
    version = ConfigVersion(tenant_id=tenant.id, section=section, number=number, data=data, actor=actor, action=action, note=note)
    db.session.add(version)
    db.session.flush()
    _apply(tenant)
    return version


def save_branding(tenant: Tenant, branding: dict, site: dict, actor: str, note: str = "") -> ConfigVersion:
    """Validate and save new branding (and site name / default locale) as the current version."""
    problems: dict[str, str] = {}
    try:
        clean = EditableBrandingSchema().load(branding)
    except ValidationError as exc:
        problems.update(flatten_errors(exc.messages, "branding"))
        clean = None
    name = (site.get("name") or "").strip()
    if not name or len(name) > 200:
        problems["name"] = str(_l("The site name is required (at most 200 characters)."))
    locale = site.get("default_locale")
    if locale not in tenant.locales:
        problems["default_locale"] = str(_l("Choose one of the site's languages."))
    if clean is not None and clean["logo"].startswith("upload/"):
        sha = clean["logo"].split("/")[1].split(".")[0]
        if db.session.scalar(select(BrandAsset.id).where(BrandAsset.sha256 == sha)) is None:
            problems["branding.logo"] = str(_l("That logo was not uploaded to this site."))
    if problems:
        raise ConfigurationError(problems)
    before = section_value(tenant.config, "branding")
    _save(tenant, "site", {"name": name, "default_locale": locale}, _actor_label(actor), "save", note)
    version = _save(tenant, "branding", clean, _actor_label(actor), "save", note)
    _audit(actor, version, before)
    db.session.commit()
    return version


def check_section(tenant: Tenant, section: str, value: dict) -> tuple[dict | None, dict[str, str]]:
    """Validate a new value of ``products`` or ``rules``: ``(clean value, {field: problem})``.

    First the schemas of tenant.yaml; then the tenant's compliance pack on the
    configuration as it would be, so a rule it breaks is named with its figures.
    Problems are keyed like the file's fields: ``products.0.max_amount``,
    ``credit.grades.AA.rate_max``, ``risk.reserve_pays_investors``.
    """
    from core.credit.compliance import config_problems

    problems: dict[str, str] = {}
    try:
        clean = SECTIONS[section]().load(value)
    except ValidationError as exc:
        clean = None
        problems.update(flatten_errors(exc.messages))
        if section == "products":
            problems.update(_each_product_problems(value.get("products")))
    candidate = copy.deepcopy(tenant.config)
    candidate.update(copy.deepcopy(clean if clean is not None else value))
    keys = SECTION_KEYS[section]
    for field, problem in config_problems(candidate).items():
        if field.split(".")[0] in keys:
            problems.setdefault(field, str(problem))
    return (None if problems else clean), problems


def _each_product_problems(products) -> dict[str, str]:
    """Every product's problems at once (``load_products`` stops at the first failing stage)."""
    from core.lending.products import ProductSchema, product_problems

    if not isinstance(products, list):
        return {}
    problems: dict[str, str] = {}
    codes: dict[str, int] = {}
    for index, product in enumerate(products):
        try:
            loaded = ProductSchema().load(product)
        except ValidationError as exc:
            problems.update(flatten_errors(exc.messages, f"products.{index}"))
            loaded = _valid_part(product, exc.messages)
            if loaded is None:
                continue
        try:
            consistency = product_problems(loaded)
        except (KeyError, TypeError, ArithmeticError):  # a field it compares is itself invalid
            consistency = {}
        for field, problem in consistency.items():
            problems.setdefault(f"products.{index}.{field}", sentence(problem))
        if loaded["code"] in codes:
            problems.setdefault(f"products.{index}.code", sentence(_("product code %(code)s is used twice", code=repr(loaded["code"]))))
        codes.setdefault(loaded["code"], index)
    return problems


def _valid_part(product: dict, messages) -> dict | None:
    """The fields of ``product`` that loaded, with the schema's defaults: enough to check how they fit together."""
    from core.lending.products import ProductSchema

    if not isinstance(product, dict) or not isinstance(messages, dict):
        return None
    try:
        loaded = ProductSchema().load({k: v for k, v in product.items() if k not in messages}, partial=True)
    except ValidationError:
        return None
    for name, field in ProductSchema._declared_fields.items():
        if name not in loaded and not field.required:
            default = field.load_default
            loaded[name] = default() if callable(default) else default
    return loaded


def latest_number(tenant: Tenant, section: str) -> int:
    """The number of the version in force (0: none yet, tenant.yaml as it is)."""
    current = _current(tenant, section)
    return current.number if current is not None else 0


def save_section(tenant: Tenant, section: str, value: dict, actor, note: str = "",
                 problems: dict[str, str] | None = None, base: int | None = None) -> ConfigVersion | None:
    """Validate and save a new version of ``products`` or ``rules``; applied at once and audited.

    ``problems`` are ones the caller already found (a form field that is not a
    number): they are reported together with the schemas' and the pack's, and
    nothing is saved while any remains. Returns None, saving nothing, when the
    value equals the one in force. ``base`` is the version the editor started
    from: if another has been saved since, nothing is saved (no change is
    silently overwritten).
    """
    if SECTION_KEYS.get(section) is None:
        raise ValueError(f"not an editable section of this kind: {section!r}")
    if base is not None and latest_number(tenant, section) != base:
        raise ConfigurationError({"version": _stale_message(tenant, section)})
    clean, found = check_section(tenant, section, value)
    found = {**found, **(problems or {})}
    if found:
        raise ConfigurationError(found)
    before = section_value(tenant.config, section)
    if not changes(section, before, clean):
        return None  # nothing differs from what is in force: no new version
    try:
        version = _save(tenant, section, clean, _actor_label(actor), "save", note)
        _audit(actor, version, before)
        db.session.commit()
    except IntegrityError:  # another save took the same number a moment ago
        db.session.rollback()
        raise ConfigurationError({"version": _stale_message(tenant, section)}) from None
    return version


def _stale_message(tenant: Tenant, section: str) -> str:
    current = _current(tenant, section)
    return str(_l("Version %(number)d was saved by %(actor)s after you opened this page. Nothing was saved: "
                  "reload the page to see it, then make your change again.",
                  number=current.number if current else 0, actor=current.actor if current else "?"))


def _audit(actor, version: ConfigVersion, before) -> None:
    paths = [change.path for change in changes(version.section, before, version.data)]
    audit(
        f"settings.{version.section}.{'rolled_back' if version.action == 'rollback' else 'saved'}",
        actor=actor,
        target=f"config_version:{version.section}#{version.number}",
        details={"section": version.section, "number": version.number, "note": version.note,
                 "changed": paths[:50], "changed_count": len(paths)},
    )

def rollback(tenant: Tenant, section: str, number: int, actor: str) -> ConfigVersion:
    """Make version ``number`` of ``section`` current again, as a new version."""
    old = db.session.scalar(
        select(ConfigVersion)
        .where(ConfigVersion.tenant_id == tenant.id, ConfigVersion.section == section, ConfigVersion.number == number)
        .execution_options(**{ALL_TENANTS: True})
    )
    if old is None:
        raise ConfigurationError({"version": str(_l("No such version."))})
    data = copy.deepcopy(old.data)
    if SECTION_KEYS.get(section) is not None and data is not None:
        data, problems = check_section(tenant, section, data)  # the rules in force today still apply
        if problems:
            raise ConfigurationError(problems)
    before = section_value(tenant.config, section) if section in SECTION_KEYS else None
    version = _save(tenant, section, data, _actor_label(actor), "rollback", f"→ {number}")
    _audit(actor, version, before)
    db.session.commit()
    return version


def store_logo(tenant: Tenant, content: bytes) -> str:
    """Keep an uploaded PNG or JPEG logo; returns its ``upload/<sha>.<ext>`` name."""
    if len(content) > MAX_LOGO_BYTES:
        raise ConfigurationError({"logo": str(_l("The logo may be at most 512 KB."))})
    for magic, (content_type, ext) in IMAGE_TYPES.items():
        if content.startswith(magic):
            break
    else:
        raise ConfigurationError({"logo": str(_l("The logo must be a PNG or JPEG image."))})
    sha = hashlib.sha256(content).hexdigest()
    if db.session.scalar(select(BrandAsset.id).where(BrandAsset.sha256 == sha)) is None:
        db.session.add(BrandAsset(sha256=sha, content_type=content_type, content=content))
        db.session.commit()
    return f"upload/{sha}.{ext}"


def logo_asset(sha: str) -> BrandAsset | None:
    return db.session.scalar(select(BrandAsset).where(BrandAsset.sha256 == sha))


# ---------------------------------------------------------------- what changed between two versions


@dataclass(frozen=True)
class Change:
    """One field that differs: ``path`` like ``products.consumer.max_amount`` or ``credit.grades.AA.limit``."""

    path: str
    before: object
    after: object

    @property
    def field(self) -> str:
        """The field's own name (the last part of the path that is not a grade or locale)."""
        return self.path.rsplit(".", 1)[-1]


def _same(a, b) -> bool:
    """Equal values; decimal strings compare by value (``"0.10"`` is ``"0.1"``)."""
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            return Decimal(a) == Decimal(b)
        except (InvalidOperation, ValueError):
            return False
    return a == b


def _leaves(value, prefix: str) -> dict:
    if isinstance(value, dict):
        found = {}
        for key, item in value.items():
            found.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix: value}


def _diff_leaves(before: dict, after: dict) -> list[Change]:
    paths = list(before) + [p for p in after if p not in before]
    return [Change(p, before.get(p), after.get(p)) for p in paths if not _same(before.get(p), after.get(p))]


def changes(section: str, before, after) -> list[Change]:
    """What differs between two values of ``section``, field by field.

    Products are matched by code: ``products.<code>`` with before None is a
    product added, with after None one removed; otherwise each changed field
    is ``products.<code>.<field>``.
    """
    if section == "products":
        old = {p["code"]: p for p in ((before or {}).get("products") or [])}
        new = {p["code"]: p for p in ((after or {}).get("products") or [])}
        found: list[Change] = []
        for code in list(old) + [c for c in new if c not in old]:
            if code not in new:
                found.append(Change(f"products.{code}", old[code], None))
            elif code not in old:
                found.append(Change(f"products.{code}", None, new[code]))
            else:
                found.extend(_diff_leaves(_leaves(old[code], f"products.{code}"), _leaves(new[code], f"products.{code}")))
        return found
    return _diff_leaves(_leaves(before or {}, ""), _leaves(after or {}, ""))


def history_with_changes(tenant: Tenant, section: str, limit: int = 50) -> list[tuple[ConfigVersion, list[Change]]]:
    """The newest ``limit`` versions of ``section``, each with what it changed from the one before
    (the first from tenant.yaml)."""
    versions = list(reversed(history(tenant, section)))
    base = section_value(tenant.file_config or tenant.config, section)
    found = []
    for version in versions:
        current = version.data if version.data is not None else base
        found.append((version, changes(section, base, current)))
        base = current
    return list(reversed(found))[:limit]
