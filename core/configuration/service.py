"""Save, roll back and apply versions of the editable configuration sections."""
from __future__ import annotations

import copy
import hashlib

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from sqlalchemy import func, select

from core.configuration.models import BrandAsset, ConfigVersion
from core.extensions import db
from core.tenancy.config import BrandingSchema, flatten_errors
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

    logo = fields.Str(required=True, validate=validate.Regexp(UPLOAD_LOGO_RE, error="must be a logo file of this tenant"))


#: Section name → the schema that validates it (the same rules as tenant.yaml).
SECTIONS = {"branding": EditableBrandingSchema}
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
        else:
            merged[section] = current.data
    return merged


def _apply(tenant: Tenant) -> None:
    """Recompute ``tenant.config`` (and its mirrored columns) from the file config plus overrides."""
    merged = apply_overrides(tenant, tenant.file_config or tenant.config)
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
    _save(tenant, "site", {"name": name, "default_locale": locale}, actor, "save", note)
    version = _save(tenant, "branding", clean, actor, "save", note)
    db.session.commit()
    return version


def rollback(tenant: Tenant, section: str, number: int, actor: str) -> ConfigVersion:
    """Make version ``number`` of ``section`` current again, as a new version."""
    old = db.session.scalar(
        select(ConfigVersion)
        .where(ConfigVersion.tenant_id == tenant.id, ConfigVersion.section == section, ConfigVersion.number == number)
        .execution_options(**{ALL_TENANTS: True})
    )
    if old is None:
        raise ConfigurationError({"version": str(_l("No such version."))})
    version = _save(tenant, section, copy.deepcopy(old.data), actor, "rollback", f"→ {number}")
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
