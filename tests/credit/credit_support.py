"""Helpers and fixtures the credit tests share (imported by name: tests/credit has no conftest).

* ``PERSON[code]`` / ``ENTERPRISE[code]``: the documented sandbox identities.
* ``Served``: a WSGI app on a free 127.0.0.1 port in a thread.
* fixture ``bureau``: a running sandbox bureau server with an ``http`` provider factory.
* ``CountingBureau``: wraps a provider and counts the reports it fetched.
"""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from plugins.credit_bureau.bureau_server import Faults, create_bureau_app
from plugins.credit_bureau.http_provider import HttpBureau
from plugins.credit_bureau.sandbox import PROFILES, SandboxBureau, sandbox_identity

HOST = "127.0.0.1"
SECRET = "test-shared-secret-0123456789"

PERSON = {code: sandbox_identity(code, "person") for code in PROFILES}
ENTERPRISE = {code: sandbox_identity(code, "enterprise") for code in PROFILES}


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class Served:
    """A WSGI app served on a free 127.0.0.1 port in a background thread."""

    def __init__(self, app):
        self.server = make_server(HOST, 0, app, threaded=True, request_handler=_Quiet)
        self.url = f"http://{HOST}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class BureauHarness:
    def __init__(self):
        self.app = create_bureau_app(SECRET)
        self.service = self.app.extensions["sandbox_bureau"]
        self.served = Served(self.app)
        self.url = self.served.url

    @property
    def faults(self) -> Faults:
        return self.service.faults

    @property
    def requests(self) -> int:
        return self.service.requests

    def settings(self, **overrides) -> dict:
        settings = {
            "base_url": self.url,
            "client_id": "lendkit-test",
            "secret": SECRET,
            "connect_timeout": 1.0,
            "read_timeout": 0.5,
            "retries": 2,
            "retry_backoff": 0.01,
        }
        settings.update(overrides)
        return settings

    def provider(self, **overrides) -> HttpBureau:
        return HttpBureau(self.settings(**overrides), tenant_slug="test")


@pytest.fixture
def bureau():
    """A fault-free sandbox bureau server; switch faults with ``bureau.faults.mode = "error"``."""
    harness = BureauHarness()
    yield harness
    harness.service.release.set()  # let a slow handler answer at once
    harness.served.close()


class CountingBureau:
    """A bureau provider that counts its report fetches (and can be switched off)."""

    name = "sandbox"

    def __init__(self, inner=None):
        self.inner = inner or SandboxBureau({}, tenant_slug="test")
        self.fetches = 0
        self.down = False

    def fetch_report(self, subject_type, subject_id, *, name=None):
        from core.credit import BureauUnavailable

        if self.down:
            raise BureauUnavailable("switched off by the test")
        self.fetches += 1
        return self.inner.fetch_report(subject_type, subject_id, name=name)
