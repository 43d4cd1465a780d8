"""The ``http`` provider against a real sandbox bank server on 127.0.0.1 (own SQLite file per test).

deposit/withdraw answer "pending" and are settled by a signed callback; the other
kinds answer their final status at once. Faults are switched on the running bank.
"""
import json
import logging
import socket
import time
from datetime import datetime, timezone

import pytest
import requests

from core.custody.provider import BadSignature, BankTimeout, BankUnavailable, CustodyError
from plugins.payment_custody import signing
from plugins.payment_custody.bank_server import FaultConfig


def settled(harness, result, timeout=5.0):
    """Wait for the callback of a pending result and return it."""
    return result if result.final else harness.callback_for(result.request_no, timeout=timeout)


@pytest.fixture
def opened(bank, ins):
    """alice (funded with 10 000 through a real deposit) and bob, over HTTP."""
    provider = bank.provider()
    for name in ("alice", "bob"):
        assert provider.submit(ins.open(name)).status == "confirmed"
    assert settled(bank, provider.submit(ins.deposit("alice", 10_000))).status == "confirmed"
    return provider


def test_check_reaches_the_bank(bank):
    bank.provider().check()


def test_round_trip_of_every_kind(bank, opened, ins):
    provider = opened
    assert provider.submit(ins.open("alice")).reason == "duplicate_account"
    assert provider.submit(ins.open("carol", card="1234567812345678")).reason == "invalid_card"

    withdraw = provider.submit(ins.withdraw("alice", 1_000))
    assert withdraw.status == "pending" and withdraw.bank_ref
    assert settled(bank, withdraw).status == "confirmed"

    assert provider.submit(ins.freeze("alice", 5_000)).status == "confirmed"
    assert provider.submit(ins.unfreeze("alice", 1_000)).status == "confirmed"
    assert provider.submit(ins.transfer("alice", "bob", 500)).status == "confirmed"
    assert provider.submit(ins.transfer("alice", "bob", 2_000, from_frozen=True)).status == "confirmed"
    batch = ins.batch(("alice", "bob", 2_000, True), ("bob", "alice", 100, False))
    assert provider.submit(batch).status == "confirmed"
    assert provider.submit(ins.transfer("alice", "bob", 99_999)).reason == "insufficient_funds"

    alice, bob = provider.balance("alice"), provider.balance("bob")
    assert (alice.available, alice.frozen) == (10_000 - 1_000 - 4_000 - 500 + 100, 0)
    assert (bob.available, bob.frozen) == (500 + 2_000 + 2_000 - 100, 0)
    assert (alice, bob) == (bank.engine.balance("alice"), bank.engine.balance("bob"))

    assert provider.query(batch.request_no).status == "confirmed"
    assert provider.query("NEVER-SENT").reason == "unknown_request"
    with pytest.raises(CustodyError) as err:
        provider.balance("ghost")
    assert err.value.reason == "unknown_account"

    today = datetime.now(timezone.utc).date()
    statement = provider.statement(today, "CNY")
    assert statement == bank.engine.statement(today, "CNY")
    assert [ln.kind for ln in statement.lines] == ["deposit", "withdraw", "freeze", "unfreeze", "transfer",
                                                    "transfer", "batch_transfer", "batch_transfer"]


def test_resubmitting_returns_the_first_outcome_and_reuse_is_refused(bank, opened, ins):
    transfer = ins.transfer("alice", "bob", 300, request_no="PAY-7")
    first = opened.submit(transfer)
    assert opened.submit(transfer) == first
    assert opened.submit(ins.transfer("alice", "bob", 301, request_no="PAY-7")).reason == "request_no_reused"
    assert opened.balance("bob").available == 300


def test_callbacks_are_signed_and_verified(bank, opened, ins, caplog):
    deposit = opened.submit(ins.deposit("bob", 250))
    notice = settled(bank, deposit)
    assert (notice.status, notice.bank_ref, notice.raw["amount"]) == ("confirmed", deposit.bank_ref, 250)
    headers, body = bank.receiver.deliveries[-1]

    tampered = body.replace(b'"confirmed"', b'"refused"')
    with caplog.at_level(logging.WARNING, logger="lendkit.custody"):
        with pytest.raises(BadSignature):
            opened.handle_callback(headers, tampered)
    assert any(r.name == "lendkit.custody" for r in caplog.records)

    forged = signing.sign_headers(signing.load_private_key(bank.platform_private), "POST",
                                  signing.url_path(bank.receiver.url), body, merchant_id="x")
    with pytest.raises(BadSignature):
        opened.handle_callback(forged, body)  # signed, but not by the bank
    with pytest.raises(BadSignature):
        opened.handle_callback({}, body)


def test_a_duplicated_callback_is_handled_once(start_bank, ins):
    harness = start_bank(FaultConfig(duplicate_callbacks=1.0, seed=1))
    provider = harness.provider()
    provider.submit(ins.open("alice"))
    deposit = provider.submit(ins.deposit("alice", 400))
    harness.callback_for(deposit.request_no, count=2)
    first, second = harness.receiver.results_for(deposit.request_no)
    assert first is second  # the platform sees one outcome, the same object twice
    assert provider.balance("alice").available == 400
    assert harness.bank.stats["callbacks_duplicated"] == 1


def test_failed_callbacks_are_retried_with_backoff(start_bank, ins):
    harness = start_bank(callback_backoff=0.05)
    provider = harness.provider()
    provider.submit(ins.open("alice"))
    answers = iter([500, 500])
    original = harness.receiver._app

    def flaky(environ, start_response):
        status = next(answers, None)
        if status:
            start_response(f"{status} ERROR", [("Content-Type", "text/plain")])
            return [b"try later"]
        return original(environ, start_response)

    harness.receiver.served.server.app = flaky
    deposit = provider.submit(ins.deposit("alice", 10))
    assert settled(harness, deposit).status == "confirmed"
    assert harness.bank.wait_idle()
    assert harness.bank.stats["callbacks_sent"] == 1


def test_an_error_after_apply_is_resolved_by_query_without_double_movement(start_bank, ins):
    """The nasty case: the bank moved the money, the client saw 500 on every (identical) retry."""
    harness = start_bank()
    provider = harness.provider(retries=2)
    provider.submit(ins.open("alice"))
    provider.submit(ins.open("bob"))
    harness.engine.submit(ins.deposit("alice", 1_000))
    harness.bank.set_faults(FaultConfig(error_rate=1.0, error_mode="after", seed=3))
    transfer = ins.transfer("alice", "bob", 600)
    with pytest.raises(BankTimeout):
        provider.submit(transfer)
    assert harness.bank.stats["errors_after"] == 3  # first try and two retries of the SAME request_no
    harness.bank.set_faults(FaultConfig())
    assert provider.query(transfer.request_no).status == "confirmed"
    assert (provider.balance("alice").available, provider.balance("bob").available) == (400, 600)
    assert provider.submit(transfer).status == "confirmed"  # resubmitting later is harmless too
    assert provider.balance("bob").available == 600


def test_an_error_before_acceptance_is_bank_unavailable(start_bank, ins):
    harness = start_bank(FaultConfig(error_rate=1.0, error_mode="before", seed=4))
    provider = harness.provider(retries=1)
    deposit = ins.open("alice")
    with pytest.raises(BankUnavailable):
        provider.submit(deposit)
    harness.bank.set_faults(FaultConfig())
    assert provider.query(deposit.request_no).reason == "unknown_request"  # nothing was received


def test_latency_beyond_the_read_timeout_gives_bank_timeout_then_query_resolves(start_bank, ins):
    harness = start_bank()
    provider = harness.provider(read_timeout=0.3, retries=1)
    provider.submit(ins.open("alice"))
    provider.submit(ins.open("bob"))
    harness.engine.submit(ins.deposit("alice", 1_000))
    harness.bank.set_faults(FaultConfig(latency_ms=1_500))
    freeze = ins.freeze("alice", 700)
    started = time.monotonic()
    with pytest.raises(BankTimeout):
        provider.submit(freeze)
    assert time.monotonic() - started < 1.5
    harness.bank.set_faults(FaultConfig())
    assert provider.query(freeze.request_no).status == "confirmed"
    assert provider.balance("alice") == harness.engine.balance("alice")
    assert (provider.balance("alice").available, provider.balance("alice").frozen) == (300, 700)


def test_connection_refused_is_bank_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from plugins.payment_custody.http_provider import HttpCustody

    private, public = signing.generate_keypair()
    provider = HttpCustody({"base_url": f"http://127.0.0.1:{port}", "merchant_id": "m",
                            "private_key_pem": private.decode(), "bank_public_key_pem": public.decode(),
                            "retries": 1, "retry_backoff": 0.01}, tenant_slug="t")
    with pytest.raises(BankUnavailable) as err:
        provider.check()
    assert err.value.reason == "connection_refused"


def test_a_response_signed_by_the_wrong_key_is_bad_signature(bank, caplog):
    _, stranger = signing.generate_keypair()
    provider = bank.provider(bank_public_key_pem=stranger.decode())
    with caplog.at_level(logging.WARNING, logger="lendkit.custody"):
        with pytest.raises(BadSignature):
            provider.check()
    assert "failed verification" in caplog.text


def test_a_platform_with_the_wrong_key_is_refused_by_the_bank(bank):
    stranger, _ = signing.generate_keypair()
    with pytest.raises(CustodyError) as err:
        bank.provider(private_key_pem=stranger.decode()).check()
    assert err.value.reason == "unauthorized"


class TestServerProtocol:
    """The bank's side of the protocol, spoken directly with requests."""

    def call(self, bank, method, path, body=b"", *, key=None, **sign):
        key = key or signing.load_private_key(bank.platform_private)
        headers = signing.sign_headers(key, method, path, body, merchant_id="m1", **sign)
        return requests.request(method, bank.url + path, data=body, headers=headers, timeout=5), headers

    def test_unsigned_requests_get_a_signed_401_json(self, bank):
        resp = requests.get(bank.url + "/v1/health", timeout=5)
        assert resp.status_code == 401 and resp.json() == {"error": "bad_signature", "reason": "missing_header"}
        signing.verify_headers(signing.load_public_key(bank.bank_public), "RESPONSE 401", "/v1/health",
                               resp.headers, resp.content)

    def test_stale_and_replayed_requests_are_refused(self, bank):
        resp, _ = self.call(bank, "GET", "/v1/health", timestamp=str(int(time.time()) - 3600))
        assert resp.status_code == 401 and resp.json()["reason"] == "stale_timestamp"
        first, headers = self.call(bank, "GET", "/v1/health")
        assert first.status_code == 200
        replay = requests.get(bank.url + "/v1/health", headers=headers, timeout=5)
        assert replay.status_code == 401 and replay.json()["reason"] == "replayed_nonce"

    def test_a_tampered_body_is_refused(self, bank, ins):
        body = json.dumps(ins.open("alice").to_dict()).encode()
        key = signing.load_private_key(bank.platform_private)
        headers = signing.sign_headers(key, "POST", "/v1/instructions", body, merchant_id="m1")
        resp = requests.post(bank.url + "/v1/instructions", data=body.replace(b"alice", b"mallory"),
                             headers=headers, timeout=5)
        assert resp.status_code == 401 and resp.json()["reason"] == "bad_signature"
        assert bank.engine.query(ins.open("x", request_no="REQ-000001").request_no).reason == "unknown_request"

    def test_malformed_instructions_are_400(self, bank):
        resp, _ = self.call(bank, "POST", "/v1/instructions", b'{"kind": "deposit", "amount": 1.5}')
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_instruction"

    def test_responses_echo_the_request_nonce_and_are_signed(self, bank, ins):
        body = json.dumps({**ins.open("alice").to_dict(), "notify_url": None}).encode()
        resp, headers = self.call(bank, "POST", "/v1/instructions", body)
        assert resp.status_code == 200 and resp.json()["status"] == "confirmed"
        signing.verify_headers(signing.load_public_key(bank.bank_public), "RESPONSE 200", "/v1/instructions",
                               resp.headers, resp.content, expected_nonce=headers["X-Lendkit-Nonce"])

    def test_statement_requires_a_date_and_currency(self, bank):
        assert self.call(bank, "GET", "/v1/statements/2025-13-01?currency=CNY")[0].status_code == 400
        assert self.call(bank, "GET", "/v1/statements/2025-03-01")[0].status_code == 400
        ok = self.call(bank, "GET", "/v1/statements/2025-03-01?currency=CNY")[0]
        assert ok.json() == {"date": "2025-03-01", "currency": "CNY", "lines": [], "closing_balances": []}
