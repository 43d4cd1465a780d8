"""A sandbox credit bureau as a separate HTTP service (JSON, HMAC-signed both ways).

``create_bureau_app(secret)`` builds the Flask application; it answers with
the sandbox's synthetic reports (:func:`plugins.credit_bureau.sandbox.synthetic_report`),
so the ``http`` provider against it gives what the ``sandbox`` provider gives.
Faults are switched on the running app (``app.extensions["sandbox_bureau"].faults``)
so tests can see every way a bureau fails. Run it by hand with::

    python -m plugins.credit_bureau.bureau_server --port 8700 --secret "$BUREAU_SECRET"

Endpoints (see README.md): ``POST /v1/reports`` ``{"subject_type", "subject_id", "name"?}``
→ ``{"report": {...}}``; ``POST /v1/identity`` ``{"name", "id_number"}`` →
``{"matched", "reason"}``; ``GET /v1/health``.
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import click
from flask import Flask, Response, request

from . import signing
from .sandbox import synthetic_report

#: Fault modes: ``error`` answers 503, ``slow`` waits ``delay`` seconds before answering,
#: ``malformed`` answers a signed body that is not a report, ``bad_signature`` signs with
#: the wrong key, ``wrong_nonce`` signs for another request, ``unsigned`` omits the signature.
FAULT_MODES = ("ok", "error", "slow", "malformed", "bad_signature", "wrong_nonce", "unsigned")


@dataclass
class Faults:
    mode: str = "ok"
    #: Seconds a ``slow`` answer waits.
    delay: float = 2.0
    #: Answer this many requests with 503 before behaving (to see retries recover).
    fail_first: int = 0


class SandboxBureauService:
    """State behind the app: the secret, the faults, a replay cache and a request counter."""

    def __init__(self, secret: str, window: int = signing.DEFAULT_WINDOW):
        self.secret = secret
        self.window = window
        self.faults = Faults()
        self.requests = 0
        #: Set to let every ``slow`` answer go at once (a test tearing the server down).
        self.release = threading.Event()
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def count(self) -> int:
        with self._lock:
            self.requests += 1
            return self.requests

    def fresh_nonce(self, nonce: str) -> bool:
        now = time.time()
        with self._lock:
            while self._seen and now - next(iter(self._seen.values())) > 2 * self.window:
                self._seen.popitem(last=False)
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


def create_bureau_app(secret: str, *, window: int = signing.DEFAULT_WINDOW) -> Flask:
    """The sandbox bureau server sharing ``secret`` with its clients."""
    app = Flask("lendkit-sandbox-bureau")
    service = SandboxBureauService(secret, window)
    app.extensions["sandbox_bureau"] = service

    def answer(status: int, payload: dict, nonce: str) -> Response:
        faults = service.faults
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        key = service.secret
        if faults.mode == "malformed" and status == 200:
            body = json.dumps({"report": {"subject_type": "person", "score": "high"}}).encode("utf-8")
        if faults.mode == "bad_signature":
            key = "not-the-shared-secret-" + service.secret
        if faults.mode == "wrong_nonce":
            nonce = "0" * 32
        headers = signing.sign_headers(key, f"RESPONSE {status}", request.path, body, client_id="sandbox-bureau",
                                       nonce=nonce)
        if faults.mode == "unsigned":
            headers.pop(signing.HEADER_SIGNATURE)
        headers["Content-Type"] = "application/json"
        return Response(body, status=status, headers=headers)

    def guarded(handler):
        def view():
            number = service.count()
            faults = service.faults
            if number <= faults.fail_first or faults.mode == "error":
                return Response('{"error":"unavailable"}', status=503, content_type="application/json")
            body = request.get_data()
            try:
                values = signing.verify_headers(service.secret, request.method, request.full_path.rstrip("?"),
                                                request.headers, body, window=service.window)
            except signing.BadSignature as exc:
                return answer(401, {"error": "bad_signature", "reason": exc.reason},
                              request.headers.get(signing.HEADER_NONCE, ""))
            nonce = values[signing.HEADER_NONCE]
            if not service.fresh_nonce(nonce):
                return answer(401, {"error": "bad_signature", "reason": "replayed"}, nonce)
            if faults.mode == "slow":
                service.release.wait(faults.delay)
            try:
                payload = json.loads(body or b"{}")
                if not isinstance(payload, dict):
                    raise ValueError
                status, result = handler(payload)
            except (ValueError, KeyError, TypeError):
                status, result = 400, {"error": "bad_request"}
            return answer(status, result, nonce)

        view.__name__ = handler.__name__
        return view

    @app.post("/v1/reports")
    @guarded
    def reports(payload):
        subject_type = payload["subject_type"]
        if subject_type not in ("person", "enterprise") or not isinstance(payload["subject_id"], str):
            raise ValueError
        report = synthetic_report(subject_type, payload["subject_id"], bureau="sandbox-bureau")
        return 200, {"report": report.to_dict()}

    @app.post("/v1/identity")
    @guarded
    def identity(payload):
        number = payload["id_number"]
        if not isinstance(number, str) or not isinstance(payload["name"], str):
            raise ValueError
        sequence = number[14:17]
        if sequence == "999":
            return 200, {"matched": False, "reason": "not_found"}
        if sequence == "998":
            return 200, {"matched": False, "reason": "name_mismatch"}
        return 200, {"matched": True, "reason": None}

    @app.get("/v1/health")
    def health():
        return {"ok": True}

    return app


@click.command("sandbox-bureau")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=int)
@click.option("--secret", envvar="BUREAU_SECRET", required=True, help="Shared HMAC secret (or BUREAU_SECRET).")
def main(host, port, secret):
    """Serve the sandbox credit bureau."""
    from werkzeug.serving import run_simple

    run_simple(host, port, create_bureau_app(secret), threaded=True)


if __name__ == "__main__":
    main()
