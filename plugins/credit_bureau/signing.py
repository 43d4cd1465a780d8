"""HMAC-SHA256 signing shared by the ``http`` bureau client and the sandbox bureau server.

Canonical string (UTF-8, fields joined by ``\\n``)::

    METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n hex(sha256(BODY))

* requests: METHOD is the HTTP method, PATH the request path (plus ``?query``);
* responses: METHOD is ``RESPONSE <status code>``, PATH the path of the request
  answered and NONCE the request's nonce, so an answer is bound to its question.

Headers: ``X-Lendkit-Client`` (the client id), ``X-Lendkit-Timestamp`` (unix
seconds), ``X-Lendkit-Nonce`` (random, at most 64 characters) and
``X-Lendkit-Signature`` (hex HMAC-SHA256 with the shared secret). A timestamp
more than ``window`` seconds from the verifier's clock is stale.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Mapping

HEADER_CLIENT = "X-Lendkit-Client"
HEADER_TIMESTAMP = "X-Lendkit-Timestamp"
HEADER_NONCE = "X-Lendkit-Nonce"
HEADER_SIGNATURE = "X-Lendkit-Signature"
DEFAULT_WINDOW = 300


class BadSignature(Exception):
    """A signature is missing, stale, for another request or wrong; ``reason`` says which."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def canonical_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body or b"").hexdigest()
    return "\n".join([method.upper(), path, str(timestamp), nonce, digest]).encode("utf-8")


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), canonical_string(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def sign_headers(secret: str, method: str, path: str, body: bytes, *, client_id: str,
                 timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four X-Lendkit-* headers signing ``method path body``."""
    timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
    nonce = nonce or secrets.token_hex(16)
    return {
        HEADER_CLIENT: client_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(secret, method, path, timestamp, nonce, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def verify_headers(secret: str, method: str, path: str, headers: Mapping[str, str], body: bytes, *,
                   window: int = DEFAULT_WINDOW, now: float | None = None,
                   expected_nonce: str | None = None) -> dict[str, str]:
    """Check the X-Lendkit-* headers; return them or raise :class:`BadSignature`
    (``missing_header``, ``stale_timestamp``, ``nonce_mismatch``, ``bad_signature``)."""
    values = {}
    for name in (HEADER_CLIENT, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE):
        value = _header(headers, name)
        if not value:
            raise BadSignature("missing_header", name)
        values[name] = value
    try:
        ts = int(values[HEADER_TIMESTAMP])
    except ValueError:
        raise BadSignature("stale_timestamp", "not an integer") from None
    now = time.time() if now is None else now
    if abs(now - ts) > window:
        raise BadSignature("stale_timestamp", f"{ts} outside the {window}s window")
    nonce = values[HEADER_NONCE]
    if len(nonce) > 64:
        raise BadSignature("bad_signature", "nonce too long")
    if expected_nonce is not None and nonce != expected_nonce:
        raise BadSignature("nonce_mismatch", "the answer does not echo the request's nonce")
    wanted = signature(secret, method, path, values[HEADER_TIMESTAMP], nonce, body)
    if not hmac.compare_digest(wanted, values[HEADER_SIGNATURE]):
        raise BadSignature("bad_signature", "signature does not verify")
    return values
