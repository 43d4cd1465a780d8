"""The ``http`` custody provider: talks to a bank speaking the lendkit custody protocol (see README.md).

Requests are signed with the platform's Ed25519 key; every response and callback
must carry a valid bank signature (else BadSignature, logged on "lendkit.custody").
Retries only ever resend the SAME request_no, which the bank treats idempotently.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from datetime import date, datetime
from typing import Mapping
from urllib.parse import quote

import requests
import urllib3.exceptions
from cryptography.exceptions import UnsupportedAlgorithm
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.custody.provider import (
    AccountHolder,
    Balance,
    BadSignature,
    BankResult,
    BankTimeout,
    BankUnavailable,
    CustodyError,
    CustodyProvider,
    Instruction,
    Statement,
    StatementLine,
)

from . import signing

__all__ = ["HttpCustody", "HttpSettingsSchema"]

log = logging.getLogger("lendkit.custody")


def _read_text(path: str) -> str:
    with open(path, "r", encoding="ascii") as fh:
        return fh.read()


class HttpSettingsSchema(Schema):
    """tenant.yaml settings of the http custody provider."""

    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    merchant_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    private_key_pem = fields.String(load_default=None, allow_none=True)
    private_key_path = fields.String(load_default=None, allow_none=True)
    bank_public_key_pem = fields.String(load_default=None, allow_none=True)
    bank_public_key_path = fields.String(load_default=None, allow_none=True)
    notify_url = fields.Url(load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"})
    connect_timeout = fields.Float(load_default=3.0, validate=validate.Range(min=0, min_inclusive=False, max=300))
    read_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0, min_inclusive=False, max=300))
    retries = fields.Integer(load_default=2, strict=True, validate=validate.Range(min=0, max=10))
    retry_backoff = fields.Float(load_default=0.2, validate=validate.Range(min=0, max=60))
    signature_window = fields.Integer(load_default=signing.DEFAULT_WINDOW, strict=True,
                                      validate=validate.Range(min=1))

    @validates_schema
    def _check_keys(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        for stem, loader, what in (("private_key", signing.load_private_key, _l("Ed25519 private key")),
                                   ("bank_public_key", signing.load_public_key, _l("Ed25519 public key"))):
            pem, path = data.get(f"{stem}_pem"), data.get(f"{stem}_path")
            if pem and path:
                errors[f"{stem}_pem"] = [_l("Give %(pem)s or %(path)s, not both.", pem=f"{stem}_pem", path=f"{stem}_path")]
                continue
            if not pem and not path:
                errors[f"{stem}_pem"] = [_l("One of %(pem)s or %(path)s is required.", pem=f"{stem}_pem", path=f"{stem}_path")]
                continue
            field_name = f"{stem}_pem" if pem else f"{stem}_path"
            try:
                loader(pem or _read_text(path))
            except OSError as exc:
                errors[field_name] = [_l("Cannot read the key file: %(error)s.", error=exc.strerror or exc)]
            except (ValueError, TypeError, UnsupportedAlgorithm):
                errors[field_name] = [_l("Not a valid PEM %(what)s.", what=what)]
        if errors:
            raise ValidationError(errors)


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the bank (connect timeout, refused, DNS)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class HttpCustody(CustodyProvider):
    """Custody bank reached over signed HTTP (the sandbox bank server or a real bank's adapter)."""

    name = "http"
    title = "Custody bank over signed HTTP"
    settings_schema = HttpSettingsSchema

    def __init__(self, settings: dict, *, tenant_slug: str):
        super().__init__(settings, tenant_slug=tenant_slug)
        s = self.settings
        self.base_url = s["base_url"].rstrip("/")
        self.merchant_id = s["merchant_id"]
        self.notify_url = s["notify_url"]
        self._private_key = signing.load_private_key(s["private_key_pem"] or _read_text(s["private_key_path"]))
        self._bank_key = signing.load_public_key(s["bank_public_key_pem"] or _read_text(s["bank_public_key_path"]))
        self._timeout = (s["connect_timeout"], s["read_timeout"])
        self._retries = s["retries"]
        self._backoff = s["retry_backoff"]
        self._window = s["signature_window"]
        self._session = requests.Session()
        self._callbacks: OrderedDict[str, BankResult] = OrderedDict()
        self._callbacks_lock = threading.Lock()

    # -- transport ------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: dict | None = None,
              payload: dict | None = None) -> tuple[int, dict]:
        """Send a signed request with retries; return ``(status, verified JSON body)`` for 2xx/4xx.

        Raises BankTimeout when a request may have reached the bank without a usable answer,
        BankUnavailable when none did, BadSignature when an answer fails verification.
        """
        body = b"" if payload is None else json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        unknown = False
        last = "unreachable"
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(self._backoff * (2 ** (attempt - 1)))
            prepared = self._session.prepare_request(requests.Request(
                method, self.base_url + path, params=params, data=body or None,
                headers={"Content-Type": "application/json"} if payload is not None else {},
            ))
            canonical = signing.url_path(prepared.url)
            headers = signing.sign_headers(self._private_key, method, canonical, body, merchant_id=self.merchant_id)
            prepared.headers.update(headers)
            try:
                resp = self._session.send(prepared, timeout=self._timeout)
            except requests.ConnectTimeout:
                last = "connect_timeout"
                continue
            except requests.ReadTimeout:
                unknown, last = True, "read_timeout"
                continue
            except requests.RequestException as exc:
                if _not_sent(exc):
                    last = "connection_refused"
                else:
                    unknown, last = True, "connection_error"
                continue
            if resp.status_code >= 500:
                last = f"http_{resp.status_code}"
                if not self._declined(resp, canonical, headers[signing.HEADER_NONCE]):
                    unknown = True
                continue
            self._verify(resp, canonical, headers[signing.HEADER_NONCE])
            try:
                data = resp.json()
            except ValueError:
                raise CustodyError("bad_response", f"{method} {path}: body is not JSON") from None
            if resp.status_code == 401:
                raise CustodyError("unauthorized", f"bank refused our signature: {data.get('reason')}")
            return resp.status_code, data
        if unknown:
            raise BankTimeout(last, f"{method} {path}: no usable answer after {self._retries + 1} attempts ({last})")
        raise BankUnavailable(last, f"{method} {path}: not accepted after {self._retries + 1} attempts ({last})")

    def _verify(self, resp: requests.Response, canonical: str, nonce: str) -> None:
        try:
            signing.verify_headers(self._bank_key, f"RESPONSE {resp.status_code}", canonical, resp.headers,
                                   resp.content, window=self._window, expected_nonce=nonce)
        except BadSignature as exc:
            log.warning("custody bank response to %s failed verification (%s) [tenant %s]",
                        canonical, exc.reason, self.tenant_slug)
            raise

    def _declined(self, resp: requests.Response, canonical: str, nonce: str) -> bool:
        """A signed 503 ``{"accepted": false}`` means the bank did not take the request."""
        if resp.status_code != 503:
            return False
        try:
            self._verify(resp, canonical, nonce)
            return resp.json().get("accepted") is False
        except (BadSignature, ValueError, AttributeError):
            return False

    @staticmethod
    def _result(data: Mapping, request_no: str) -> BankResult:
        if data.get("request_no") != request_no or data.get("status") not in ("confirmed", "refused", "pending"):
            raise CustodyError("bad_response", f"unexpected answer for {request_no}: {data!r}")
        return BankResult(request_no, data["status"], data.get("bank_ref"), data.get("reason"), data)

    # -- contract -------------------------------------------------------------------

    def submit(self, instruction: Instruction) -> BankResult:
        payload = instruction.to_dict()
        if self.notify_url:
            payload["notify_url"] = self.notify_url
        status, data = self._call("POST", "/v1/instructions", payload=payload)
        if status not in (200, 202):
            raise CustodyError(data.get("error") or "bad_request", data.get("message") or f"HTTP {status}")
        return self._result(data, instruction.request_no)

    def query(self, request_no: str) -> BankResult:
        status, data = self._call("GET", f"/v1/instructions/{quote(request_no, safe='')}")
        if status != 200:
            raise CustodyError(data.get("error") or "bad_request", f"HTTP {status}")
        return self._result(data, request_no)

    def balance(self, account: str) -> Balance:
        status, data = self._call("GET", f"/v1/accounts/{quote(account, safe='')}/balance")
        if status == 404:
            raise CustodyError(data.get("error") or "unknown_account", f"unknown account {account!r}")
        if status != 200:
            raise CustodyError(data.get("error") or "bad_request", f"HTTP {status}")
        return Balance(data["account"], int(data["available"]), int(data["frozen"]))

    def holder(self, account: str) -> AccountHolder:
        status, data = self._call("GET", f"/v1/accounts/{quote(account, safe='')}/holder")
        if status == 404:
            raise CustodyError(data.get("error") or "unknown_account", f"unknown account {account!r}")
        if status != 200:
            raise CustodyError(data.get("error") or "bad_request", f"HTTP {status}")
        return AccountHolder(data["account"], str(data["id_last4"]), str(data["card_last4"]))

    def statement(self, day: date, currency: str) -> Statement:
        status, data = self._call("GET", f"/v1/statements/{day.isoformat()}", params={"currency": currency})
        if status != 200:
            raise CustodyError(data.get("error") or "bad_request", f"HTTP {status}")
        lines = tuple(
            StatementLine(ln["request_no"], ln["kind"], ln["account"], ln.get("counterparty"), int(ln["amount"]),
                          ln["currency"], bool(ln["from_frozen"]), datetime.fromisoformat(ln["confirmed_at"]))
            for ln in data["lines"]
        )
        closing = tuple(Balance(b["account"], int(b["available"]), int(b["frozen"]))
                        for b in data["closing_balances"])
        return Statement(date.fromisoformat(data["date"]), data["currency"], lines, closing)

    def handle_callback(self, headers: Mapping[str, str], body: bytes) -> BankResult:
        if not self.notify_url:
            raise CustodyError("no_notify_url", "callbacks need notify_url in the settings")
        try:
            signing.verify_headers(self._bank_key, "POST", signing.url_path(self.notify_url), headers, body,
                                   window=self._window)
        except BadSignature as exc:
            log.warning("custody callback failed verification (%s) [tenant %s]", exc.reason, self.tenant_slug)
            raise
        try:
            data = json.loads(body)
            result = self._result(data, data["request_no"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CustodyError("bad_callback", f"malformed callback: {exc}") from None
        if not result.final:
            raise CustodyError("bad_callback", "callbacks carry final results only")
        with self._callbacks_lock:
            seen = self._callbacks.get(result.request_no)
            if seen is not None:
                self._callbacks.move_to_end(result.request_no)
                return seen
            self._callbacks[result.request_no] = result
            while len(self._callbacks) > 10_000:
                self._callbacks.popitem(last=False)
        return result

    def check(self) -> None:
        status, data = self._call("GET", "/v1/health")
        if status != 200 or data.get("status") != "ok":
            raise CustodyError("unhealthy", f"bank health answered HTTP {status}: {data!r}")

    def close(self) -> None:
        self._session.close()
