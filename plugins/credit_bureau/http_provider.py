"""The ``http`` credit bureau: a client for a bureau REST API (protocol in README.md).

Requests and answers are signed with HMAC-SHA256 (:mod:`.signing`). Every
answer must be signed for the request it answers and fit
:class:`core.credit.report.ReportSchema`. Timeouts, refused connections and
5xx answers are retried a bounded number of times; anything else that goes
wrong is :class:`core.credit.BureauUnavailable` — never an empty report.
"""
from __future__ import annotations

import json
import logging
import os
import time

import requests
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.credit import BureauReport, BureauUnavailable, CreditBureau, IdentityCheck

from . import signing

log = logging.getLogger("lendkit.credit.bureau")


class HttpBureauSettings(Schema):
    """tenant.yaml settings of the http bureau."""

    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    client_id = fields.Str(required=True, validate=validate.Length(1, 64))
    #: The shared HMAC secret, or the name of the environment variable holding it (preferred).
    secret = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=16))
    secret_env = fields.Str(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Z_][A-Z0-9_]*$"))
    connect_timeout = fields.Float(load_default=3.0, validate=validate.Range(min=0, min_inclusive=False, max=60))
    read_timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0, min_inclusive=False, max=120))
    #: Extra attempts after a timeout, a refused connection or a 5xx answer.
    retries = fields.Int(load_default=2, strict=True, validate=validate.Range(0, 5))
    retry_backoff = fields.Float(load_default=0.2, validate=validate.Range(min=0, max=10))
    signature_window = fields.Int(load_default=signing.DEFAULT_WINDOW, strict=True, validate=validate.Range(min=1))

    @validates_schema
    def _secret(self, data, **kwargs):
        if bool(data.get("secret")) == bool(data.get("secret_env")):
            raise ValidationError(_l("Give exactly one of secret or secret_env."), "secret")


class IdentityAnswerSchema(Schema):
    matched = fields.Bool(required=True, truthy={True}, falsy={False})
    reason = fields.Str(load_default=None, allow_none=True)


class HttpBureau(CreditBureau):
    """A credit bureau reached over signed HTTP (the sandbox bureau server or a real bureau's adapter)."""

    name = "http"
    title = "Credit bureau over signed HTTP"
    settings_schema = HttpBureauSettings

    def __init__(self, settings: dict, *, tenant_slug: str):
        super().__init__(settings, tenant_slug=tenant_slug)
        s = self.settings
        self.base_url = s["base_url"].rstrip("/")
        self.client_id = s["client_id"]
        self._secret_value = s["secret"]
        self._secret_env = s["secret_env"]
        self._timeout = (s["connect_timeout"], s["read_timeout"])
        self._retries = s["retries"]
        self._backoff = s["retry_backoff"]
        self._window = s["signature_window"]

    def _secret(self) -> str:
        if self._secret_value:
            return self._secret_value
        value = os.environ.get(self._secret_env, "")
        if not value:
            raise BureauUnavailable(f"the bureau secret is not set (environment variable {self._secret_env})")
        return value

    def _post(self, path: str, payload: dict) -> dict:
        """POST signed JSON; return the verified JSON answer or raise BureauUnavailable."""
        secret = self._secret()
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
        last = "unreachable"
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(self._backoff * (2 ** (attempt - 1)))
            headers = signing.sign_headers(secret, "POST", path, body, client_id=self.client_id)
            headers["Content-Type"] = "application/json"
            try:
                resp = requests.post(self.base_url + path, data=body, headers=headers, timeout=self._timeout)
            except requests.Timeout:
                last = "timeout"
                continue
            except requests.RequestException as exc:
                last = f"connection failed ({type(exc).__name__})"
                continue
            if resp.status_code >= 500:
                last = f"HTTP {resp.status_code}"
                continue
            try:
                signing.verify_headers(secret, f"RESPONSE {resp.status_code}", path, resp.headers, resp.content,
                                       window=self._window, expected_nonce=headers[signing.HEADER_NONCE])
            except signing.BadSignature as exc:
                log.warning("credit bureau answer to %s failed verification (%s) [tenant %s]",
                            path, exc.reason, self.tenant_slug)
                raise BureauUnavailable(f"bureau answer not trusted: {exc.reason}") from None
            if resp.status_code != 200:
                raise BureauUnavailable(f"bureau refused the request: HTTP {resp.status_code}")
            try:
                data = resp.json()
            except ValueError:
                raise BureauUnavailable("bureau answer is not JSON") from None
            if not isinstance(data, dict):
                raise BureauUnavailable("bureau answer is not a JSON object")
            return data
        raise BureauUnavailable(f"bureau did not answer after {self._retries + 1} attempts: {last}")

    def check(self) -> None:
        """Reachability for the delivery gates: the bureau's ``GET /v1/health`` answers 200."""
        try:
            resp = requests.get(self.base_url + "/v1/health", timeout=self._timeout)
        except requests.RequestException as exc:
            raise BureauUnavailable(f"bureau unreachable ({type(exc).__name__})") from None
        if resp.status_code != 200:
            raise BureauUnavailable(f"bureau health answered HTTP {resp.status_code}")

    def verify_identity(self, name: str, id_number: str) -> IdentityCheck:
        data = self._post("/v1/identity", {"name": name, "id_number": id_number})
        try:
            answer = IdentityAnswerSchema().load(data)
        except ValidationError as err:
            raise BureauUnavailable(f"malformed identity answer: {err.messages}") from None
        return IdentityCheck(answer["matched"], answer["reason"])

    def fetch_report(self, subject_type: str, subject_id: str, *, name: str | None = None) -> BureauReport:
        payload = {"subject_type": subject_type, "subject_id": subject_id}
        if name is not None:
            payload["name"] = name
        data = self._post("/v1/reports", payload)
        try:
            report = BureauReport.from_dict(data.get("report"))
        except ValidationError as err:
            raise BureauUnavailable(f"malformed report: {sorted(err.messages)[:3]}") from None
        except (TypeError, AttributeError):
            raise BureauUnavailable("malformed report: no report object") from None
        if report.subject_type != subject_type or report.subject_id != subject_id.strip().upper():
            raise BureauUnavailable("the bureau answered about another subject")
        return report
