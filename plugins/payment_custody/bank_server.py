"""The sandbox custody bank as a separate HTTP service (JSON, Ed25519-signed both ways).

``create_bank_app(...)`` builds the Flask application; ``sandbox_bank_command``
is the click command (``python -m plugins.payment_custody.bank_server`` or
``lendkit sandbox-bank``). See README.md in this package for the protocol.

``deposit`` and ``withdraw`` are asynchronous (they touch the user's bound card):
the bank answers 202 ``pending``, settles them after ``settle_delay_ms`` and
notifies ``notify_url``. Every other kind is synchronous: 200 with the final status.
"""
from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timezone

import click
import requests
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from core.custody.provider import CustodyError, Instruction

from . import signing
from .engine import BankEngine

__all__ = ["FaultConfig", "SandboxBank", "create_bank_app", "sandbox_bank_command", "ASYNC_KINDS"]

log = logging.getLogger("lendkit.custody.bank")

#: Kinds answered 202 pending and settled later with a callback.
ASYNC_KINDS = frozenset({"deposit", "withdraw"})
_ERROR_MODES = ("before", "after", "both")


@dataclass(frozen=True)
class FaultConfig:
    """Fault injection of the sandbox bank (all off by default).

    error_rate: share of API requests answered 5xx; "before" gives 503 {"accepted": false}
    without processing, "after" processes the request then answers 500 (money moved, client
    saw an error); error_mode picks "before", "after" or "both" (half each).
    latency_ms / latency_rate: share of API responses held back latency_ms after processing.
    drop_callbacks: share of result notices never sent; duplicate_callbacks: share sent twice;
    delay_callbacks: ms before a notice is sent; reorder_callbacks: random extra delay so
    notices overtake each other. seed: makes every random decision reproducible.
    /v1/health is exempt from faults.
    """

    error_rate: float = 0.0
    error_mode: str = "both"
    latency_ms: int = 0
    latency_rate: float = 1.0
    drop_callbacks: float = 0.0
    duplicate_callbacks: float = 0.0
    delay_callbacks: int = 0
    reorder_callbacks: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "latency_rate", "drop_callbacks", "duplicate_callbacks"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.error_mode not in _ERROR_MODES:
            raise ValueError(f"error_mode must be one of {_ERROR_MODES}")
        if self.latency_ms < 0 or self.delay_callbacks < 0:
            raise ValueError("latency_ms and delay_callbacks must be >= 0")


class SandboxBank:
    """The bank service behind the Flask app: engine, keys, faults, settlement and callback worker."""

    def __init__(
        self,
        engine: BankEngine,
        private_key_pem: bytes | str,
        platform_public_key_pem: bytes | str | None,
        faults: FaultConfig = FaultConfig(),
        *,
        merchant_id: str | None = None,
        bank_id: str = "sandbox-bank",
        settle_delay_ms: int = 20,
        callback_attempts: int = 5,
        callback_backoff: float = 0.2,
        callback_timeout: float = 2.0,
        signature_window: int = signing.DEFAULT_WINDOW,
    ):
        self.engine = engine
        self.private_key = signing.load_private_key(private_key_pem)
        self.platform_key = signing.load_public_key(platform_public_key_pem) if platform_public_key_pem else None
        self.merchant_id = merchant_id
        self.bank_id = bank_id
        self.settle_delay_ms = settle_delay_ms
        self.callback_attempts = callback_attempts
        self.callback_backoff = callback_backoff
        self.callback_timeout = callback_timeout
        self.signature_window = signature_window
        self.nonces = signing.NonceCache(signature_window)
        self.stats = {"callbacks_sent": 0, "callbacks_failed": 0, "callbacks_dropped": 0,
                      "callbacks_duplicated": 0, "errors_before": 0, "errors_after": 0, "delayed": 0}
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._rng_lock = threading.Lock()
        self._heap: list = []
        self._seq = itertools.count()
        self._scheduled: set[str] = set()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bank-callback")
        self._worker = threading.Thread(target=self._run, name="bank-worker", daemon=True)
        self._worker.start()
        for request_no, _url in engine.pending():
            self.schedule_settlement(request_no)

    # -- faults ---------------------------------------------------------------------

    @property
    def faults(self) -> FaultConfig:
        """The active fault configuration."""
        return self._faults

    def set_faults(self, faults: FaultConfig) -> None:
        """Switch faults at run time (the random generator is re-seeded when a seed is given)."""
        with self._rng_lock:
            self._faults = faults
            if faults.seed is not None:
                self._rng = random.Random(faults.seed)

    def chance(self, rate: float) -> bool:
        """A seeded coin flip that is True with probability ``rate``."""
        if rate <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < rate

    def uniform(self, low: float, high: float) -> float:
        """A seeded uniform draw."""
        with self._rng_lock:
            return self._rng.uniform(low, high)

    # -- worker ---------------------------------------------------------------------

    def _push(self, due: float, task: tuple) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), task))
            self._cond.notify()

    def schedule_settlement(self, request_no: str) -> None:
        """Settle a pending instruction after ``settle_delay_ms`` (once)."""
        with self._cond:
            if request_no in self._scheduled:
                return
            self._scheduled.add(request_no)
        self._push(time.monotonic() + self.settle_delay_ms / 1000, ("settle", request_no))

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set():
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        _, _, task = heapq.heappop(self._heap)
                        self._in_flight += 1
                        break
                    timeout = (self._heap[0][0] - now) if self._heap else 0.5
                    self._cond.wait(min(timeout, 0.5))
                else:
                    return
            try:
                if task[0] == "settle":
                    self._settle(task[1])
                    self._done()
                else:
                    self._pool.submit(self._deliver, *task[1:])
            except Exception:  # noqa: BLE001 - the worker must survive anything
                log.exception("sandbox bank worker task %r failed", task)
                self._done()

    def _done(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def _settle(self, request_no: str) -> None:
        before = self.engine.query(request_no)
        if before.status != "pending":
            return
        result = self.engine.settle(request_no)
        url = self.engine.notify_url(request_no)
        if url:
            self.schedule_callback(url, self.callback_payload(request_no, result.raw))

    def callback_payload(self, request_no: str, raw) -> dict:
        """The body of a result notice."""
        payload = {"event": "instruction.result", **dict(raw)}
        ins = self.engine.instruction(request_no)
        if ins is not None:
            payload.update(account=ins.account, amount=ins.amount, currency=ins.currency)
        return payload

    def schedule_callback(self, url: str, payload: dict) -> None:
        """Queue a result notice, applying the drop/duplicate/delay/reorder faults."""
        faults = self._faults
        if self.chance(faults.drop_callbacks):
            self.stats["callbacks_dropped"] += 1
            log.info("fault: dropping callback for %s", payload.get("request_no"))
            return
        copies = 1
        if self.chance(faults.duplicate_callbacks):
            copies = 2
            self.stats["callbacks_duplicated"] += 1
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
        for _ in range(copies):
            delay = faults.delay_callbacks / 1000
            if faults.reorder_callbacks:
                delay += self.uniform(0, max(faults.delay_callbacks, 50) / 1000)
            self._push(time.monotonic() + delay, ("deliver", url, body, 0))

    def _deliver(self, url: str, body: bytes, attempt: int) -> None:
        try:
            headers = signing.sign_headers(self.private_key, "POST", signing.url_path(url), body,
                                           merchant_id=self.merchant_id or self.bank_id)
            headers["Content-Type"] = "application/json"
            ok = False
            if not self._stop.is_set():
                try:
                    resp = requests.post(url, data=body, headers=headers, timeout=self.callback_timeout)
                    ok = 200 <= resp.status_code < 300
                except requests.RequestException as exc:
                    log.info("callback to %s failed: %s", url, exc)
            if ok:
                self.stats["callbacks_sent"] += 1
            elif attempt + 1 < self.callback_attempts and not self._stop.is_set():
                backoff = min(self.callback_backoff * (2 ** attempt), 30.0)
                self._push(time.monotonic() + backoff, ("deliver", url, body, attempt + 1))
            else:
                self.stats["callbacks_failed"] += 1
                log.warning("giving up callback to %s after %d attempts", url, attempt + 1)
        finally:
            self._done()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is pending, queued or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                idle = not self._heap and self._in_flight == 0
            if idle and not self.engine.pending():
                return True
            time.sleep(0.02)
        return False

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the bank stops."""
        self._stop.wait(seconds)

    def stop(self) -> None:
        """Stop the worker and callback threads (queued notices are abandoned)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._worker.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)


def _json(data, status: int = 200) -> Response:
    body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return Response(body, status=status, mimetype="application/json")


def create_bank_app(
    database_url: str,
    private_key_pem: bytes | str,
    platform_public_key_pem: bytes | str | None,
    faults: FaultConfig = FaultConfig(),
    **options,
) -> Flask:
    """The sandbox bank Flask app; ``app.extensions["sandbox_bank"]`` is the :class:`SandboxBank`
    (call its ``stop()`` when done). ``options`` go to SandboxBank (merchant_id, settle_delay_ms,
    callback_attempts, callback_backoff, callback_timeout, signature_window)."""
    engine = BankEngine(database_url)
    bank = SandboxBank(engine, private_key_pem, platform_public_key_pem, faults, **options)
    app = Flask("lendkit_sandbox_bank")
    app.extensions["sandbox_bank"] = bank

    @app.before_request
    def authenticate():
        nonce = request.headers.get(signing.HEADER_NONCE, "")
        g.nonce = nonce if 0 < len(nonce) <= 64 else None  # echoed in the signed answer, even a 401
        g.error_after = False
        g.latency = 0.0
        body = request.get_data(cache=True)
        path = signing.canonical_path(request.path, request.query_string.decode("latin-1"))
        if bank.platform_key is None:
            return _json({"error": "bad_signature", "reason": "no_platform_key"}, 401)
        try:
            headers = signing.verify_headers(bank.platform_key, request.method, path, request.headers, body,
                                             window=bank.signature_window)
        except CustodyError as exc:
            log.warning("rejected request %s %s: %s", request.method, path, exc.reason)
            return _json({"error": "bad_signature", "reason": exc.reason}, 401)
        merchant = headers[signing.HEADER_MERCHANT]
        if bank.merchant_id and merchant != bank.merchant_id:
            return _json({"error": "bad_signature", "reason": "unknown_merchant"}, 401)
        if not bank.nonces.add(f"{merchant}:{headers[signing.HEADER_NONCE]}"):
            return _json({"error": "bad_signature", "reason": "replayed_nonce"}, 401)
        g.nonce = headers[signing.HEADER_NONCE]
        g.merchant = merchant
        if request.path == "/v1/health":
            return None
        faults = bank.faults
        if bank.chance(faults.latency_rate if faults.latency_ms else 0.0):
            g.latency = faults.latency_ms / 1000
        if bank.chance(faults.error_rate):
            after = faults.error_mode == "after" or (faults.error_mode == "both" and bank.chance(0.5))
            if not after:
                bank.stats["errors_before"] += 1
                return _json({"error": "unavailable", "accepted": False}, 503)
            g.error_after = True
        return None

    @app.after_request
    def sign_response(response: Response) -> Response:
        if getattr(g, "error_after", False):
            bank.stats["errors_after"] += 1
            response = _json({"error": "internal_error"}, 500)
        if getattr(g, "latency", 0.0):
            bank.stats["delayed"] += 1
            bank.sleep(g.latency)
        path = signing.canonical_path(request.path, request.query_string.decode("latin-1"))
        body = response.get_data()
        response.headers.update(signing.sign_headers(
            bank.private_key, f"RESPONSE {response.status_code}", path, body,
            merchant_id=getattr(g, "merchant", None) or bank.bank_id, nonce=getattr(g, "nonce", None),
        ))
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _json({"error": exc.name.lower().replace(" ", "_")}, exc.code or 500)

    @app.post("/v1/instructions")
    def submit():
        data = request.get_json(force=True, silent=True)
        if not isinstance(data, dict):
            return _json({"error": "invalid_instruction", "message": "body must be a JSON object"}, 400)
        data = dict(data)
        notify_url = data.pop("notify_url", None)
        try:
            instruction = Instruction.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": "invalid_instruction", "message": str(exc)}, 400)
        if instruction.kind in ASYNC_KINDS:
            result = engine.submit(instruction, defer=True, notify_url=notify_url)
            if result.status == "pending":
                bank.schedule_settlement(instruction.request_no)
        else:
            result = engine.submit(instruction)
        return _json(dict(result.raw), 202 if result.status == "pending" else 200)

    @app.get("/v1/instructions/<request_no>")
    def query(request_no: str):
        return _json(dict(engine.query(request_no).raw))

    @app.get("/v1/accounts/<account>/balance")
    def balance(account: str):
        try:
            b = engine.balance(account)
        except CustodyError as exc:
            return _json({"error": exc.reason}, 404)
        return _json({"account": b.account, "available": b.available, "frozen": b.frozen,
                      "currency": engine.account_currency(account)})

    @app.get("/v1/accounts/<account>/holder")
    def holder(account: str):
        try:
            h = engine.holder(account)
        except CustodyError as exc:
            return _json({"error": exc.reason}, 404)
        return _json({"account": h.account, "id_last4": h.id_last4, "card_last4": h.card_last4})

    @app.get("/v1/statements/<day>")
    def statement(day: str):
        currency = request.args.get("currency")
        try:
            when = date.fromisoformat(day)
        except ValueError:
            return _json({"error": "invalid_date"}, 400)
        if not currency:
            return _json({"error": "currency_required"}, 400)
        st = engine.statement(when, currency)
        return _json({
            "date": st.date.isoformat(),
            "currency": st.currency,
            "lines": [{
                "request_no": ln.request_no, "kind": ln.kind, "account": ln.account,
                "counterparty": ln.counterparty, "amount": ln.amount, "currency": ln.currency,
                "from_frozen": ln.from_frozen, "confirmed_at": ln.confirmed_at.isoformat(),
            } for ln in st.lines],
            "closing_balances": [{"account": b.account, "available": b.available, "frozen": b.frozen}
                                 for b in st.closing_balances],
        })

    @app.get("/v1/health")
    def health():
        return _json({"status": "ok", "bank": bank.bank_id,
                      "time": datetime.now(timezone.utc).isoformat()})

    return app


# -- command line -------------------------------------------------------------------


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def prepare_keys(key_dir: str, *, generate_platform_key: bool = True) -> tuple[bytes, bytes | None, list[str]]:
    """Load (or create on first run) the bank key pair in ``key_dir`` and the platform's public key.

    Returns ``(bank private PEM, platform public PEM or None, messages)``. Without
    ``platform_public.pem`` a demo platform key pair is generated when allowed.
    """
    messages = []
    bank_private = os.path.join(key_dir, "bank_private.pem")
    bank_public = os.path.join(key_dir, "bank_public.pem")
    if not os.path.exists(bank_private):
        bank_private, bank_public = signing.write_keypair(key_dir, "bank")
        messages.append("generated the bank key pair")
    messages.append(f"bank public key: {bank_public}")
    platform_public = os.path.join(key_dir, "platform_public.pem")
    if not os.path.exists(platform_public) and generate_platform_key:
        private_path, platform_public = signing.write_keypair(key_dir, "platform")
        messages.append(f"generated a DEMO platform key pair; platform private key: {private_path}")
    platform_pem = _read(platform_public) if os.path.exists(platform_public) else None
    if platform_pem is None:
        messages.append(f"no {platform_public}: every request will be refused until it exists")
    else:
        messages.append(f"platform public key: {platform_public}")
    return _read(bank_private), platform_pem, messages


@click.command("sandbox-bank")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8750, show_default=True, type=int)
@click.option("--database-url", default="sqlite:///instance/sandbox-bank-server.db", show_default=True)
@click.option("--key-dir", default="instance/sandbox-bank-keys", show_default=True,
              help="Holds bank_private.pem/bank_public.pem and platform_public.pem.")
@click.option("--merchant-id", default=None, help="Accept only this X-Lendkit-Merchant (default: any).")
@click.option("--generate-platform-key/--no-generate-platform-key", default=True, show_default=True,
              help="Create a demo platform key pair when platform_public.pem is missing.")
@click.option("--settle-delay-ms", default=200, show_default=True, type=int,
              help="Delay before asynchronous deposits/withdrawals are settled.")
@click.option("--error-rate", default=0.0, type=float, show_default=True)
@click.option("--error-mode", default="both", type=click.Choice(_ERROR_MODES), show_default=True)
@click.option("--latency", "latency_ms", default=0, type=int, show_default=True, help="Response delay in ms.")
@click.option("--latency-rate", default=1.0, type=float, show_default=True)
@click.option("--drop-callbacks", default=0.0, type=float, show_default=True)
@click.option("--duplicate-callbacks", default=0.0, type=float, show_default=True)
@click.option("--delay-callbacks", default=0, type=int, show_default=True, help="Callback delay in ms.")
@click.option("--reorder-callbacks/--no-reorder-callbacks", default=False, show_default=True)
@click.option("--seed", default=None, type=int)
@click.option("--preload-accounts", "preload", default=None, type=click.Path(exists=True, dir_okay=False),
              help="SANDBOX ONLY: a CSV of accounts (with balances) the bank already holds; see preload.py.")
@click.option("--preload-currency", default="CNY", show_default=True, help="Currency of preloaded accounts.")
def sandbox_bank_command(host, port, database_url, key_dir, merchant_id, generate_platform_key,
                         settle_delay_ms, error_rate, error_mode, latency_ms, latency_rate, drop_callbacks,
                         duplicate_callbacks, delay_callbacks, reorder_callbacks, seed, preload=None,
                         preload_currency="CNY"):
    """Run the sandbox custody bank server (signed JSON over HTTP, with optional fault injection)."""
    from werkzeug.serving import make_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    bank_pem, platform_pem, messages = prepare_keys(key_dir, generate_platform_key=generate_platform_key)
    for message in messages:
        click.echo(message)
    faults = FaultConfig(error_rate=error_rate, error_mode=error_mode, latency_ms=latency_ms,
                         latency_rate=latency_rate, drop_callbacks=drop_callbacks,
                         duplicate_callbacks=duplicate_callbacks, delay_callbacks=delay_callbacks,
                         reorder_callbacks=reorder_callbacks, seed=seed)
    app = create_bank_app(database_url, bank_pem, platform_pem, faults, merchant_id=merchant_id,
                          settle_delay_ms=settle_delay_ms)
    if preload:
        from .preload import PreloadError, preload_csv

        try:
            count = preload_csv(app.extensions["sandbox_bank"].engine, preload, preload_currency)
        except PreloadError as exc:
            app.extensions["sandbox_bank"].stop()
            raise click.ClickException(str(exc))
        click.echo(f"preloaded {count} account(s) from {preload}")
    server = make_server(host, port, app, threaded=True)
    click.echo(f"sandbox bank listening on http://{host}:{server.server_port} ({database_url})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["sandbox_bank"].stop()


if __name__ == "__main__":  # python -m plugins.payment_custody.bank_server
    sandbox_bank_command(prog_name="python -m plugins.payment_custody.bank_server")
