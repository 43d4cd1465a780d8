"""Personal data at rest: AES-GCM encryption and blind indexes, keyed per tenant.

Key material comes from ``LENDKIT_DATA_KEY``. Each tenant gets its own keys,
derived with HKDF-SHA256 (the tenant's slug in the ``info``), one per use:

* ``enc``   AES-256-GCM for identity numbers, mobile numbers, bank cards,
            TOTP secrets and uploaded images;
* ``index`` HMAC-SHA256 blind indexes: equality look-ups ("is this mobile
            registered?") without storing or decrypting the value;
* ``otp``   HMAC of one-time codes;
* ``audit`` HMAC of the audit chain.

A sealed value is ``b"\\x01" + nonce(12) + ciphertext+tag``; the associated
data names the tenant and the field (``alpha:user.mobile``), so a value copied
to another field or another tenant does not decrypt.

Everything here runs with the app context's config; nothing is logged.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

VERSION = b"\x01"
_SALT = b"lendkit personal data v1"


class DecryptionFailed(Exception):
    """A sealed value could not be opened: wrong key, wrong field or altered bytes."""


@lru_cache(maxsize=512)
def _derive(material: str, tenant_slug: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=f"{purpose}:{tenant_slug}".encode())
    return hkdf.derive(material.encode("utf-8"))


def tenant_key(tenant_slug: str, purpose: str) -> bytes:
    """The 32-byte key of ``tenant_slug`` for ``purpose`` (``enc``, ``index``, ``otp``, ``audit``)."""
    return _derive(current_app.config["LENDKIT_DATA_KEY"], tenant_slug, purpose)


def _slug_of(tenant_id: int) -> str:
    from core.extensions import db
    from core.tenancy.models import Tenant

    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id}")
    return tenant.slug


def slug_for(tenant) -> str:
    """A Tenant, a slug or a tenant id → the slug keys are derived from."""
    if isinstance(tenant, str):
        return tenant
    if isinstance(tenant, int):
        return _slug_of(tenant)
    return tenant.slug


def seal(tenant, field: str, plaintext: bytes | str) -> bytes:
    """Encrypt ``plaintext`` for ``field`` of ``tenant``."""
    slug = slug_for(tenant)
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    nonce = os.urandom(12)
    aad = f"{slug}:{field}".encode()
    return VERSION + nonce + AESGCM(tenant_key(slug, "enc")).encrypt(nonce, data, aad)


def open_sealed(tenant, field: str, sealed: bytes) -> bytes:
    """Decrypt what :func:`seal` made; :class:`DecryptionFailed` if it was altered or moved."""
    slug = slug_for(tenant)
    if not sealed or sealed[:1] != VERSION or len(sealed) < 1 + 12 + 16:
        raise DecryptionFailed(f"{field}: not a sealed value")
    try:
        return AESGCM(tenant_key(slug, "enc")).decrypt(sealed[1:13], bytes(sealed[13:]), f"{slug}:{field}".encode())
    except InvalidTag:
        raise DecryptionFailed(f"{field}: does not decrypt") from None


def open_text(tenant, field: str, sealed: bytes | None) -> str:
    if sealed is None:
        return ""
    return open_sealed(tenant, field, sealed).decode("utf-8")


def blind_index(tenant, kind: str, value: str) -> str:
    """Hex HMAC of a normalised ``value``: equal values of one kind and tenant give equal indexes."""
    key = tenant_key(slug_for(tenant), "index")
    return hmac.new(key, f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()


def keyed_hash(tenant, purpose: str, message: str) -> str:
    """Hex HMAC-SHA256 of ``message`` under the tenant's ``purpose`` key (``otp``, ``audit``)."""
    return hmac.new(tenant_key(slug_for(tenant), purpose), message.encode("utf-8"), hashlib.sha256).hexdigest()
