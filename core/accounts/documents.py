"""Uploaded identity images: checked, encrypted, kept under ``instance/kyc/<tenant>/``.

Only JPEG and PNG are accepted, recognised by their first bytes (not the
file name), between :data:`MIN_BYTES` and ``ACCOUNTS_MAX_UPLOAD_BYTES``
(5 MiB unless configured). Files are sealed with the tenant's key; the
associated data names the file, so a file renamed or moved does not open.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from core.accounts import crypto
from core.accounts.policy import AccountRefused

SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
MIN_BYTES = 100
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


def max_bytes() -> int:
    return int(current_app.config.get("ACCOUNTS_MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES))


def read_image(field: str, upload) -> tuple[str, bytes]:
    """``(content type, bytes)`` of an uploaded image, or :class:`AccountRefused` saying what is wrong."""
    if upload is None or not getattr(upload, "filename", None):
        raise AccountRefused(field, "missing_file", _l("Please choose a photo to upload."))
    limit = max_bytes()
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise AccountRefused(field, "file_too_large",
                             _l("The photo is larger than %(mb)d MB. Please upload a smaller one.", mb=limit // (1024 * 1024) or 1))
    if len(data) < MIN_BYTES:
        raise AccountRefused(field, "file_too_small", _l("The file is too small to be a photo."))
    for content_type, signatures in SIGNATURES.items():
        if any(data.startswith(sig) for sig in signatures):
            return content_type, data
    raise AccountRefused(field, "file_type", _l("Please upload a JPEG or PNG photo."))


def _folder(tenant) -> Path:
    return Path(current_app.instance_path) / "kyc" / crypto.slug_for(tenant)


def store(tenant, data: bytes) -> str:
    """Seal and write ``data``; returns the storage name."""
    name = secrets.token_hex(16)
    folder = _folder(tenant)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(crypto.seal(tenant, f"kyc_document:{name}", data))
    return name


def load(tenant, name: str) -> bytes:
    return crypto.open_sealed(tenant, f"kyc_document:{name}", (_folder(tenant) / f"{name}.bin").read_bytes())


def remove(tenant, name: str) -> None:
    try:
        (_folder(tenant) / f"{name}.bin").unlink()
    except FileNotFoundError:
        pass
