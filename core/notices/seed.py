"""Load ``tenants/<slug>/seed/notices.yaml`` (idempotent by ``key``)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from core.extensions import db
from core.notices.models import NOTICE_KINDS, Notice


class NoticeSeedSchema(Schema):
    key = fields.Str(required=True, validate=validate.Length(1, 100))
    kind = fields.Str(load_default="announcement", validate=validate.OneOf(NOTICE_KINDS))
    title = fields.Str(required=True, validate=validate.Length(1, 200))
    body = fields.Str(required=True)
    published_at = fields.DateTime(load_default=None)


def seed_notices(path: Path) -> int:
    """Create or update the notices listed in ``path`` for the bound tenant; returns the count."""
    if not path.is_file():
        return 0
    try:
        rows = NoticeSeedSchema(many=True).load(yaml.safe_load(path.read_text(encoding="utf-8")) or [])
    except ValidationError as exc:
        from core.tenancy.config import TenantConfigError, flatten_errors

        raise TenantConfigError(path, flatten_errors(exc.messages)) from None
    for row in rows:
        notice = db.session.scalar(select(Notice).where(Notice.key == row["key"]))
        if notice is None:
            notice = Notice(key=row["key"])
            db.session.add(notice)
        notice.kind = row["kind"]
        notice.title = row["title"]
        notice.body = row["body"]
        notice.published_at = row["published_at"] or notice.published_at or datetime.now(timezone.utc)
    return len(rows)
