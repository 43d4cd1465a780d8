"""Fixtures of the custody flow tests: money operations through the tenant's bank, end to end.

* ``flow``: tenant alpha bound, on the in-process ``sandbox`` bank, with the
  platform's sub-accounts opened; helpers to open users and make keys.
* ``bank_server``: a factory starting the sandbox bank server on 127.0.0.1
  (real HTTP, Ed25519-signed both ways, optional faults) and serving the
  lendkit app on 127.0.0.1 for the bank's callbacks; tenant alpha is switched
  to the ``http`` provider pointing at it.

Test modules import these (``from flow_fixtures import flow``) rather than
having a ``conftest.py`` here: see ``tests/ledger/ledger_fixtures.py``.
"""
from __future__ import annotations

import itertools
import threading
import time

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from core.accounts.identity import luhn_check_digit
from core.custody import service
from core.extensions import db
from core.ledger.chart import account
from core.tenancy import tenant_context
from plugins.payment_custody import signing
from plugins.payment_custody.bank_server import FaultConfig, create_bank_app

HOST = "127.0.0.1"
PLATFORM_ROLES = ("fee_income", "risk_reserve", "marketing")


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll ``predicate`` until truthy; return its value or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


class Flow:
    """Helpers for the bound tenant: keys, card numbers, opening users, reading balances."""

    def __init__(self):
        self._keys = itertools.count(1)
        self._cards = itertools.count(1)

    def key(self, prefix: str = "op") -> str:
        return f"{prefix}-{next(self._keys)}"

    def card(self) -> str:
        partial = f"622202{next(self._cards):012d}"
        return partial + luhn_check_digit(partial)

    def open_platform(self):
        for role in PLATFORM_ROLES:
            done = service.open_account(role, name="Alpha Lending Ltd.", id_number="91310115MA1K4XYZ3E",
                                        card_number=self.card(), key=f"open-{role}")
            assert done.state == "confirmed", (role, done.state, done.reason)

    def open_user(self, user_id: int):
        done = service.open_account(user_id, name=f"User {user_id}", id_number=f"ID{user_id:06d}",
                                    card_number=self.card(), key=f"open-user-{user_id}")
        assert done.state == "confirmed", (user_id, done.state, done.reason)
        return done

    @staticmethod
    def available(party) -> int:
        code = f"user:{party}:available" if isinstance(party, int) else f"platform:{party}"
        return account(code).posted_balance

    @staticmethod
    def frozen(user_id: int) -> int:
        return account(f"user:{user_id}:frozen").posted_balance

    @staticmethod
    def spendable(user_id: int) -> int:
        return account(f"user:{user_id}:available").spendable


@pytest.fixture
def flow(app, tenant_a):
    """Tenant alpha bound on the in-process sandbox bank, platform sub-accounts opened."""
    with tenant_context(tenant_a):
        helper = Flow()
        helper.open_platform()
        yield helper
        db.session.rollback()


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class Served:
    """A WSGI app on a free 127.0.0.1 port, in a background thread."""

    def __init__(self, wsgi_app):
        self.server = make_server(HOST, 0, wsgi_app, threaded=True, request_handler=_Quiet)
        self.url = f"http://{HOST}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class AsHost:
    """WSGI middleware: every request arrives with ``Host: <host>`` (the bank calls 127.0.0.1:port)."""

    def __init__(self, wsgi_app, host: str):
        self.wsgi_app = wsgi_app
        self.host = host

    def __call__(self, environ, start_response):
        environ["HTTP_HOST"] = self.host
        return self.wsgi_app(environ, start_response)


class BankServer:
    """The sandbox bank over HTTP, the lendkit site for its callbacks, and tenant alpha pointed at both."""

    def __init__(self, app, tenant, directory, faults: FaultConfig, provider_settings: dict, **options):
        self.bank_private, self.bank_public = signing.generate_keypair()
        self.platform_private, self.platform_public = signing.generate_keypair()
        options.setdefault("settle_delay_ms", 5)
        options.setdefault("callback_backoff", 0.05)
        self.app = create_bank_app(f"sqlite:///{directory / 'bank-server.db'}", self.bank_private,
                                   self.platform_public, faults, merchant_id="lendkit-alpha", **options)
        self.bank = self.app.extensions["sandbox_bank"]
        self.engine = self.bank.engine
        self.served = Served(self.app)
        self.site = Served(AsHost(app, f"{tenant.slug}.test"))
        self.notify_url = self.site.url + "/api/v1/custody/callback"
        self.settings = {
            "base_url": self.served.url,
            "merchant_id": "lendkit-alpha",
            "private_key_pem": self.platform_private.decode(),
            "bank_public_key_pem": self.bank_public.decode(),
            "notify_url": self.notify_url,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "retries": 2,
            "retry_backoff": 0.02,
            **provider_settings,
        }
        use_provider(tenant, "http", self.settings)

    def set_faults(self, faults: FaultConfig) -> None:
        self.bank.set_faults(faults)

    def sign_callback(self, payload: bytes, *, private_key=None) -> dict:
        key = signing.load_private_key(private_key or self.bank_private)
        headers = signing.sign_headers(key, "POST", signing.url_path(self.notify_url), payload,
                                       merchant_id="sandbox-bank")
        headers["Content-Type"] = "application/json"
        return headers

    def close(self):
        self.bank.stop()
        self.served.close()
        self.site.close()
        self.engine.close()


def use_provider(tenant, name: str, settings: dict) -> None:
    """Point ``tenant``'s custody choice at provider ``name`` (as if tenant.yaml said so)."""
    providers = dict(tenant.config["providers"])
    providers["custody"] = {"name": name, "settings": settings}
    tenant.config = {**tenant.config, "providers": providers}
    db.session.commit()


@pytest.fixture
def bank_server(app, tenant_a, tmp_path):
    """Factory: ``bank_server(FaultConfig(...), read_timeout=0.3, **bank_options)`` → a running :class:`BankServer`.

    Call it before binding the tenant; the provider settings given override the defaults.
    """
    started = []
    provider_keys = {"read_timeout", "connect_timeout", "retries", "retry_backoff"}

    def start(faults: FaultConfig = FaultConfig(), **options) -> BankServer:
        settings = {k: options.pop(k) for k in list(options) if k in provider_keys}
        directory = tmp_path / f"bank{len(started)}"
        directory.mkdir()
        server = BankServer(app, tenant_a, directory, faults, settings, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
