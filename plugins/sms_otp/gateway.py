"""A small SMS gateway speaking the ``http`` provider's protocol, for tests and the demo.

It checks each request's HMAC signature, timestamp and nonce, keeps the
messages in memory instead of sending them, and signs its answers. Faults can
be switched on to rehearse failures::

    gateway = SmsGateway(secrets={"lendkit": "0123456789abcdef"})
    gateway.fault = "down"      # 503 | "slow" | "reject" | "bad_signature" | "garbage" | None

Run one: ``python -m plugins.sms_otp.gateway --port 8025 --key lendkit --secret …``.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
import uuid

from flask import Flask, Response, request

from plugins.sms_otp.http import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    sign,
    verify,
)

FAULTS = (None, "down", "slow", "reject", "bad_signature", "garbage")


class SmsGateway:
    def __init__(self, secrets: dict[str, str], *, slow_seconds: float = 2.0):
        self.secrets = dict(secrets)
        self.messages: list[dict] = []
        self.fault: str | None = None
        self.slow_seconds = slow_seconds
        self._nonces: set[str] = set()
        self._lock = threading.Lock()

    def app(self) -> Flask:
        app = Flask("sms_gateway")
        app.add_url_rule("/v1/messages", "messages", self._messages, methods=["POST"])
        app.add_url_rule("/v1/health", "health", self._health, methods=["GET"])
        return app

    def _health(self):
        """A signed ``GET /v1/health``: the gateway is up and knows the caller's key."""
        key_id = request.headers.get(HEADER_KEY, "")
        nonce = request.headers.get(HEADER_NONCE, "")
        secret = self.secrets.get(key_id)
        if secret is None:
            return self._answer(401, {"error": "unknown_key", "message": "no such key id"}, nonce, None)
        if not verify(secret, request.headers.get(HEADER_SIGNATURE, ""), "GET", request.path,
                      request.headers.get(HEADER_TIMESTAMP, ""), nonce, b""):
            return self._answer(401, {"error": "bad_signature", "message": "signature or timestamp refused"}, nonce, key_id)
        if self.fault == "down":
            return Response(b'{"error": "unavailable"}', status=503, headers={"Content-Type": "application/json"})
        return self._answer(200, {"status": "ok"}, nonce, key_id)

    def _answer(self, status: int, payload, nonce: str, key_id: str | None, *, corrupt: bool = False) -> Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        secret = self.secrets.get(key_id or "")
        if secret:
            timestamp = str(int(time.time()))
            signature = sign(secret, f"RESPONSE {status}", request.path, timestamp, nonce, body)
            if corrupt:
                signature = ("0" if signature[0] != "0" else "1") + signature[1:]
            headers.update({HEADER_TIMESTAMP: timestamp, HEADER_SIGNATURE: signature})
        return Response(body, status=status, headers=headers)

    def _messages(self):
        key_id = request.headers.get(HEADER_KEY, "")
        nonce = request.headers.get(HEADER_NONCE, "")
        secret = self.secrets.get(key_id)
        body = request.get_data()
        if secret is None:
            return self._answer(401, {"error": "unknown_key", "message": "no such key id"}, nonce, None)
        if not verify(secret, request.headers.get(HEADER_SIGNATURE, ""), "POST", request.path,
                      request.headers.get(HEADER_TIMESTAMP, ""), nonce, body):
            return self._answer(401, {"error": "bad_signature", "message": "signature or timestamp refused"}, nonce, key_id)
        with self._lock:
            if not nonce or nonce in self._nonces:
                return self._answer(409, {"error": "replayed", "message": "nonce already used"}, nonce, key_id)
            self._nonces.add(nonce)
        fault = self.fault
        if fault == "down":
            return Response(b'{"error": "unavailable"}', status=503, headers={"Content-Type": "application/json"})
        if fault == "slow":
            time.sleep(self.slow_seconds)
        try:
            data = json.loads(body)
            to, text = data["to"], data["text"]
        except (ValueError, KeyError, TypeError):
            return self._answer(400, {"error": "bad_request", "message": "to and text are required"}, nonce, key_id)
        if fault == "reject" or not (isinstance(to, str) and len(to) == 11 and to.isdigit()):
            return self._answer(400, {"error": "invalid_number", "message": "cannot deliver to this number"}, nonce, key_id)
        if fault == "garbage":
            return self._answer(200, b"<html>oops</html>", nonce, key_id)
        message_id = uuid.uuid4().hex
        with self._lock:
            self.messages.append({"id": message_id, "key": key_id, "to": to, "text": text,
                                  "sender": data.get("sender", ""), "at": time.time()})
        return self._answer(202, {"message_id": message_id}, nonce, key_id, corrupt=fault == "bad_signature")


def main(argv=None) -> None:
    import argparse

    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="Reference SMS gateway for the lendkit http SMS provider")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--key", default="lendkit")
    parser.add_argument("--secret", default=None, help="shared secret (default: a random one, printed)")
    args = parser.parse_args(argv)
    secret = args.secret or secrets.token_hex(16)
    print(f"SMS gateway on http://{args.host}:{args.port}  key_id={args.key}  secret={secret}")
    run_simple(args.host, args.port, SmsGateway({args.key: secret}).app(), threaded=True)


if __name__ == "__main__":
    main()
