"""The ``http`` SMS provider: a client for an SMS gateway's REST API with HMAC-signed requests.

Protocol (the reference gateway is :mod:`plugins.sms_otp.gateway`)::

    POST {base_url}/v1/messages
    Content-Type: application/json
    X-Sms-Key: <key_id>
    X-Sms-Timestamp: <unix seconds>
    X-Sms-Nonce: <random hex>
    X-Sms-Signature: hex(HMAC-SHA256(secret, canonical))

    {"to": "13800138000", "text": "...", "sender": "...", "client_ref": "<uuid>"}

``canonical`` is ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(sha256(body))``.
A 200/202 answer is ``{"message_id": "..."}`` signed the same way with
``RESPONSE <status>`` as METHOD and the request's nonce, so a forged or
replayed answer is refused. Errors are ``{"error": code, "message": ...}``.

Every failure is an :class:`~core.sms.SmsError` subclass the core handles:
:class:`SmsTimeout`, :class:`SmsUnavailable` (cannot connect, 5xx),
:class:`SmsRejected` (4xx, with the gateway's ``code``),
:class:`SmsBadSignature`, :class:`SmsBadResponse`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from urllib.parse import urlsplit

import requests
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.sms import SmsError, SmsProvider, SmsReceipt

__all__ = [
    "HttpSms", "HttpSmsSettings", "SmsTimeout", "SmsUnavailable", "SmsRejected", "SmsBadSignature",
    "SmsBadResponse", "canonical", "sign", "verify",
]

HEADER_KEY = "X-Sms-Key"
HEADER_TIMESTAMP = "X-Sms-Timestamp"
HEADER_NONCE = "X-Sms-Nonce"
HEADER_SIGNATURE = "X-Sms-Signature"
#: Answers with a timestamp further than this from our clock are refused.
WINDOW_SECONDS = 300


class SmsTimeout(SmsError):
    """The gateway did not answer in time; the message may or may not go out."""


class SmsUnavailable(SmsError):
    """The gateway could not be reached or failed (5xx)."""


class SmsRejected(SmsError):
    """The gateway refused the message (4xx); ``code`` is its reason (``invalid_number``, ``rate_limited``…)."""

    def __init__(self, code: str, message: str = "", status: int = 400):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.status = status


class SmsBadSignature(SmsError):
    """The answer's signature is missing, wrong or stale."""


class SmsBadResponse(SmsError):
    """The answer is not what the protocol says (not JSON, no message id)."""


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method, path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode("utf-8")


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), canonical(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def verify(secret: str, signature: str, method: str, path: str, timestamp: str, nonce: str, body: bytes,
           *, now: float | None = None, window: int = WINDOW_SECONDS) -> bool:
    """True when ``signature`` is right and ``timestamp`` within ``window`` seconds of ``now``."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - stamp) > window:
        return False
    expected = sign(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected, signature or "")


class HttpSmsSettings(Schema):
    """``providers.sms.settings`` for ``name: http``."""

    #: The gateway's address, e.g. ``https://sms.example.com``.
    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    #: The account (key id) the gateway knows the platform by.
    key_id = fields.Str(required=True, validate=validate.Length(1, 64))
    #: The shared HMAC secret (at least 16 characters). Prefer ``secret_env``.
    secret = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=16))
    #: Name of an environment variable holding the secret, so it stays out of tenant.yaml.
    secret_env = fields.Str(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Z_][A-Z0-9_]*$"))
    #: Sender name / signature registered at the gateway (``【品牌】``), optional.
    sender = fields.Str(load_default="", validate=validate.Length(max=32))
    connect_timeout = fields.Float(load_default=3.0, validate=validate.Range(min=0.1, max=30))
    read_timeout = fields.Float(load_default=5.0, validate=validate.Range(min=0.1, max=60))

    @validates_schema
    def _a_secret(self, data, **kwargs):
        if not data.get("secret") and not data.get("secret_env"):
            raise ValidationError(_l("Set secret, or secret_env naming an environment variable."), "secret")


class HttpSms(SmsProvider):
    name = "http"
    title = "SMS gateway over HTTPS (HMAC-signed REST API)"
    settings_schema = HttpSmsSettings

    def __init__(self, settings: dict, *, tenant_slug: str):
        super().__init__(settings, tenant_slug=tenant_slug)
        secret = self.settings.get("secret")
        if not secret and self.settings.get("secret_env"):
            import os

            secret = os.environ.get(self.settings["secret_env"], "")
        if not secret:
            raise SmsError("http SMS provider: no secret (set settings.secret or settings.secret_env)")
        self._secret = secret
        self._session = requests.Session()

    @property
    def _url(self) -> str:
        return self.settings["base_url"].rstrip("/") + "/v1/messages"

    def _request(self, method: str, url: str, body: bytes = b""):
        """Send one signed request; returns (response, path, nonce). Network failures raise typed errors."""
        path = urlsplit(url).path
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        headers = {
            HEADER_KEY: self.settings["key_id"],
            HEADER_TIMESTAMP: timestamp,
            HEADER_NONCE: nonce,
            HEADER_SIGNATURE: sign(self._secret, method, path, timestamp, nonce, body),
        }
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = self._session.request(method, url, data=body or None, headers=headers, allow_redirects=False,
                                             timeout=(self.settings["connect_timeout"], self.settings["read_timeout"]))
        except requests.Timeout as exc:
            raise SmsTimeout(f"gateway did not answer in time: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise SmsUnavailable(f"gateway unreachable: {type(exc).__name__}") from None
        return response, path, nonce

    def send(self, mobile: str, text: str) -> SmsReceipt:
        body = json.dumps(
            {"to": mobile, "text": text, "sender": self.settings["sender"], "client_ref": uuid.uuid4().hex},
            ensure_ascii=False, separators=(",", ":"),
        ).encode("utf-8")
        response, path, nonce = self._request("POST", self._url, body)
        return self._receipt(response, path, nonce)

    def check(self) -> None:
        """Reachability for the delivery gates: a signed ``GET /v1/health`` the gateway answers, signed, with 200."""
        url = self.settings["base_url"].rstrip("/") + "/v1/health"
        response, path, nonce = self._request("GET", url)
        status = response.status_code
        if status >= 500:
            raise SmsUnavailable(f"gateway answered {status}")
        if not verify(self._secret, response.headers.get(HEADER_SIGNATURE, ""), f"RESPONSE {status}", path,
                      response.headers.get(HEADER_TIMESTAMP, ""), nonce, response.content):
            raise SmsBadSignature(f"gateway health answer {status} is not signed by the gateway")
        if status != 200:
            raise SmsRejected("health", f"gateway refused the health check with {status}", status)

    def _receipt(self, response, path: str, nonce: str) -> SmsReceipt:
        status = response.status_code
        if status >= 500:
            raise SmsUnavailable(f"gateway answered {status}")
        if not verify(self._secret, response.headers.get(HEADER_SIGNATURE, ""), f"RESPONSE {status}", path,
                      response.headers.get(HEADER_TIMESTAMP, ""), nonce, response.content):
            raise SmsBadSignature(f"gateway answer {status} is not signed by the gateway")
        try:
            payload = response.json()
        except ValueError:
            raise SmsBadResponse(f"gateway answer {status} is not JSON") from None
        if not isinstance(payload, dict):
            raise SmsBadResponse("gateway answer is not a JSON object")
        if status >= 400:
            raise SmsRejected(str(payload.get("error") or "rejected"), str(payload.get("message") or ""), status)
        if status not in (200, 201, 202) or not isinstance(payload.get("message_id"), str) or not payload["message_id"]:
            raise SmsBadResponse(f"gateway answer {status} has no message_id")
        return SmsReceipt(message_id=payload["message_id"], provider=self.name)
