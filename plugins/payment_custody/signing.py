"""Ed25519 message signing shared by the sandbox bank server and the ``http`` provider.

Canonical string (UTF-8, fields joined by ``\\n``)::

    METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n hex(sha256(BODY))

* requests and callbacks: METHOD is the HTTP method (``POST``), PATH the request
  path plus ``?query`` when there is one (percent-decoded path, query as sent);
* responses: METHOD is ``RESPONSE <status code>``, PATH the path of the request
  answered, NONCE the nonce of that request (binds the answer to the question).

Headers: ``X-Lendkit-Merchant``, ``X-Lendkit-Timestamp`` (unix seconds),
``X-Lendkit-Nonce`` (random, at most 64 characters) and ``X-Lendkit-Signature``
(base64 of the 64-byte signature). A timestamp more than ``window`` seconds
from the verifier's clock is stale.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import threading
import time
from collections import OrderedDict
from typing import Mapping
from urllib.parse import unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.custody.provider import BadSignature

__all__ = [
    "HEADER_MERCHANT", "HEADER_TIMESTAMP", "HEADER_NONCE", "HEADER_SIGNATURE", "DEFAULT_WINDOW",
    "generate_keypair", "write_keypair", "load_private_key", "load_public_key", "public_pem",
    "canonical_path", "url_path", "canonical_string", "sign_headers", "verify_headers", "NonceCache",
]

HEADER_MERCHANT = "X-Lendkit-Merchant"
HEADER_TIMESTAMP = "X-Lendkit-Timestamp"
HEADER_NONCE = "X-Lendkit-Nonce"
HEADER_SIGNATURE = "X-Lendkit-Signature"
DEFAULT_WINDOW = 300


def generate_keypair() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as ``(private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)``."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return private, public_pem(key)


def public_pem(private_key: Ed25519PrivateKey) -> bytes:
    """The PEM public key of ``private_key``."""
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def write_keypair(directory: str, stem: str) -> tuple[str, str]:
    """Write ``<stem>_private.pem`` (mode 0600) and ``<stem>_public.pem`` into ``directory``; return both paths."""
    os.makedirs(directory, exist_ok=True)
    private, public = generate_keypair()
    private_path = os.path.join(directory, f"{stem}_private.pem")
    public_path = os.path.join(directory, f"{stem}_public.pem")
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    with open(public_path, "wb") as fh:
        fh.write(public)
    return private_path, public_path


def _as_bytes(pem: bytes | str) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem


def load_private_key(pem: bytes | str) -> Ed25519PrivateKey:
    """Parse an unencrypted Ed25519 private key PEM; ValueError otherwise."""
    key = serialization.load_pem_private_key(_as_bytes(pem), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    """Parse an Ed25519 public key PEM; ValueError otherwise."""
    key = serialization.load_pem_public_key(_as_bytes(pem))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def canonical_path(path: str, query: str = "") -> str:
    """An already percent-decoded ``path`` plus ``?query`` (as sent) when the query is not empty."""
    path = path or "/"
    return f"{path}?{query}" if query else path


def url_path(url: str) -> str:
    """The canonical path of a full URL: percent-decoded path plus its query as sent."""
    parts = urlsplit(url)
    return canonical_path(unquote(parts.path), parts.query)


def canonical_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The exact bytes that are signed."""
    digest = hashlib.sha256(body or b"").hexdigest()
    return "\n".join([method.upper(), path, str(timestamp), nonce, digest]).encode("utf-8")


def sign_headers(
    private_key: Ed25519PrivateKey,
    method: str,
    path: str,
    body: bytes,
    *,
    merchant_id: str,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four X-Lendkit-* headers signing ``method path body`` (fresh timestamp and nonce unless given)."""
    timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
    nonce = nonce or secrets.token_hex(16)
    signature = private_key.sign(canonical_string(method, path, timestamp, nonce, body))
    return {
        HEADER_MERCHANT: merchant_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode("ascii"),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, val in headers.items():
            if key.lower() == lowered:
                return val
    return value


def verify_headers(
    public_key: Ed25519PublicKey,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    window: int = DEFAULT_WINDOW,
    now: float | None = None,
    expected_nonce: str | None = None,
) -> dict[str, str]:
    """Check the X-Lendkit-* headers; return them, or raise BadSignature with a reason:
    ``missing_header``, ``stale_timestamp``, ``nonce_mismatch`` or ``bad_signature``."""
    values = {}
    for name in (HEADER_MERCHANT, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE):
        value = _header(headers, name)
        if not value:
            raise BadSignature("missing_header", f"missing {name}")
        values[name] = value
    timestamp, nonce = values[HEADER_TIMESTAMP], values[HEADER_NONCE]
    try:
        ts = int(timestamp)
    except ValueError:
        raise BadSignature("stale_timestamp", "timestamp is not an integer") from None
    now = time.time() if now is None else now
    if abs(now - ts) > window:
        raise BadSignature("stale_timestamp", f"timestamp {ts} outside the {window}s window")
    if len(nonce) > 64:
        raise BadSignature("bad_signature", "nonce too long")
    if expected_nonce is not None and nonce != expected_nonce:
        raise BadSignature("nonce_mismatch", "response nonce does not echo the request nonce")
    try:
        signature = base64.b64decode(values[HEADER_SIGNATURE], validate=True)
        public_key.verify(signature, canonical_string(method, path, timestamp, nonce, body))
    except (InvalidSignature, binascii.Error, ValueError):
        raise BadSignature("bad_signature", "signature does not verify") from None
    return values


class NonceCache:
    """Remembers nonces seen within the window so a captured request cannot be replayed."""

    def __init__(self, window: int = DEFAULT_WINDOW, max_size: int = 100_000):
        self._window = window
        self._max = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: str, now: float | None = None) -> bool:
        """Record ``key``; False if it was already seen within the window (a replay)."""
        now = time.time() if now is None else now
        with self._lock:
            while self._seen:
                _oldest, seen_at = next(iter(self._seen.items()))
                if now - seen_at <= 2 * self._window and len(self._seen) < self._max:
                    break
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True
