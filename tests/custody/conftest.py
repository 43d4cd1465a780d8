"""Fixtures of the custody tests: bank engines, instruction builders, a real sandbox bank server
on 127.0.0.1 and a platform-side callback receiver. Independent of tests/conftest.py."""
from __future__ import annotations

import itertools
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from core.custody.provider import BadSignature, Instruction, TransferItem
from plugins.payment_custody import signing
from plugins.payment_custody.bank_server import FaultConfig, create_bank_app
from plugins.payment_custody.engine import BankEngine
from plugins.payment_custody.http_provider import HttpCustody

HOST = "127.0.0.1"


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit to ``partial``."""
    for digit in "0123456789":
        candidate = partial + digit
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.01):
    """Poll ``predicate`` until truthy; return its value or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


class Builder:
    """Builds instructions with fresh request numbers: ``ins.deposit("alice", 100)``."""

    def __init__(self, prefix: str = "REQ", currency: str = "CNY"):
        self._seq = itertools.count(1)
        self.prefix = prefix
        self.currency = currency
        self._cards = itertools.count(1)

    def next_no(self) -> str:
        return f"{self.prefix}-{next(self._seq):06d}"

    def card(self) -> str:
        return luhn_complete(f"622202{next(self._cards):012d}")

    def open(self, account, *, card=None, currency=None, request_no=None):
        details = {"name": f"User {account}", "id_number": f"ID-{account}", "card_number": card or self.card()}
        return Instruction(request_no or self.next_no(), "open_account", account, 0,
                           currency or self.currency, details=details)

    def _simple(self, kind, account, amount, **kw):
        request_no = kw.pop("request_no", None) or self.next_no()
        currency = kw.pop("currency", None) or self.currency
        return Instruction(request_no, kind, account, amount, currency, **kw)

    def deposit(self, account, amount, **kw):
        return self._simple("deposit", account, amount, **kw)

    def withdraw(self, account, amount, **kw):
        return self._simple("withdraw", account, amount, **kw)

    def freeze(self, account, amount, **kw):
        return self._simple("freeze", account, amount, **kw)

    def unfreeze(self, account, amount, **kw):
        return self._simple("unfreeze", account, amount, **kw)

    def transfer(self, source, target, amount, *, from_frozen=False, **kw):
        return self._simple("transfer", source, amount, counterparty=target, from_frozen=from_frozen, **kw)

    def batch(self, *legs, **kw):
        items = tuple(TransferItem(*leg) if not isinstance(leg, TransferItem) else leg for leg in legs)
        request_no = kw.pop("request_no", None) or self.next_no()
        return Instruction(request_no, "batch_transfer", None, sum(i.amount for i in items),
                           kw.pop("currency", None) or self.currency, items=items, **kw)


@pytest.fixture
def ins() -> Builder:
    """Instruction builder with fresh request numbers."""
    return Builder()


class Clock:
    """A settable clock for engines (aware UTC datetimes)."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def engine(tmp_path, clock):
    """A bank engine on its own SQLite file, driven by the ``clock`` fixture."""
    eng = BankEngine(f"sqlite:///{tmp_path / 'bank.db'}", clock=clock)
    yield eng
    eng.close()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class Served:
    """A WSGI app served on a free 127.0.0.1 port in a background thread."""

    def __init__(self, app):
        self.server = make_server(HOST, 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://{HOST}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class CallbackReceiver:
    """The platform's notify_url: hands each notice to ``provider.handle_callback``; 200 acknowledges."""

    def __init__(self):
        self.provider = None
        self.deliveries: list[tuple[dict, bytes]] = []
        self.results = []
        self.rejected = []
        self.on_result = None
        self.lock = threading.Lock()
        self.served = Served(self._app)
        self.url = self.served.url + "/custody/callback"

    @Request.application
    def _app(self, request: Request) -> Response:
        body = request.get_data()
        with self.lock:
            self.deliveries.append((dict(request.headers), body))
        try:
            result = self.provider.handle_callback(request.headers, body)
        except BadSignature as exc:
            with self.lock:
                self.rejected.append(exc)
            return Response("bad signature", status=401)
        with self.lock:
            self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)
        return Response("ok")

    def results_for(self, request_no):
        with self.lock:
            return [r for r in self.results if r.request_no == request_no]


class BankHarness:
    """A sandbox bank server (own SQLite file, own keys) plus a callback receiver and providers."""

    def __init__(self, directory, faults: FaultConfig, **options):
        self.bank_private, self.bank_public = signing.generate_keypair()
        self.platform_private, self.platform_public = signing.generate_keypair()
        options.setdefault("settle_delay_ms", 10)
        options.setdefault("callback_backoff", 0.05)
        self.app = create_bank_app(f"sqlite:///{directory / 'bank-server.db'}", self.bank_private,
                                   self.platform_public, faults, **options)
        self.bank = self.app.extensions["sandbox_bank"]
        self.engine = self.bank.engine
        self.served = Served(self.app)
        self.url = self.served.url
        self.receiver = CallbackReceiver()
        self.providers = []

    wait_for = staticmethod(wait_for)

    def callback_for(self, request_no, count=1, timeout=5.0):
        """Wait until ``count`` notices for ``request_no`` were handled; return the first."""
        return self.wait_for(lambda: len(self.receiver.results_for(request_no)) >= count, timeout) and \
            self.receiver.results_for(request_no)[0]

    def provider(self, **overrides) -> HttpCustody:
        settings = {
            "base_url": self.url,
            "merchant_id": "lendkit-demo",
            "private_key_pem": self.platform_private.decode(),
            "bank_public_key_pem": self.bank_public.decode(),
            "notify_url": self.receiver.url,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "retries": 2,
            "retry_backoff": 0.02,
        }
        settings.update(overrides)
        provider = HttpCustody(settings, tenant_slug="demo")
        if self.receiver.provider is None:
            self.receiver.provider = provider
        self.providers.append(provider)
        return provider

    def close(self):
        self.bank.stop()
        self.served.close()
        self.receiver.served.close()
        for provider in self.providers:
            provider.close()
        self.engine.close()


@pytest.fixture
def start_bank(tmp_path):
    """Factory: ``start_bank(FaultConfig(...), **options)`` -> a running :class:`BankHarness`."""
    harnesses = []

    def start(faults: FaultConfig = FaultConfig(), **options) -> BankHarness:
        directory = tmp_path / f"bank{len(harnesses)}"
        directory.mkdir()
        harness = BankHarness(directory, faults, **options)
        harnesses.append(harness)
        return harness

    yield start
    for harness in harnesses:
        harness.close()


@pytest.fixture
def bank(start_bank) -> BankHarness:
    """A fault-free sandbox bank server."""
    return start_bank()
