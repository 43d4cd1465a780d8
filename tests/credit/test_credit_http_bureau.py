"""The http bureau against a real sandbox bureau server on 127.0.0.1: answers, and every way it fails.

Whatever goes wrong — 5xx, timeout, refused connection, malformed or badly
signed answer — the caller gets BureauUnavailable ("try later"), never a report.
"""
import socket
import time
from dataclasses import replace

import pytest
import requests

from core.credit import BureauUnavailable
from plugins.credit_bureau import signing
from plugins.credit_bureau.http_provider import HttpBureau, HttpBureauSettings
from plugins.credit_bureau.sandbox import synthetic_report

from credit_support import ENTERPRISE, PERSON, SECRET, bureau  # noqa: F401  (fixture)


def same_report(got, expected):
    return replace(got, bureau="x", generated_at=None) == replace(expected, bureau="x", generated_at=None)


def test_reports_over_http_are_the_sandbox_reports(bureau):
    provider = bureau.provider()
    for subject_type, numbers in (("person", PERSON), ("enterprise", ENTERPRISE)):
        for code in ("901", "905", "921", "999"):
            got = provider.fetch_report(subject_type, numbers[code])
            assert same_report(got, synthetic_report(subject_type, numbers[code])), code
    assert bureau.requests == 8


def test_identity_checks_over_http(bureau):
    provider = bureau.provider()
    assert provider.verify_identity("张三", PERSON["901"]).matched
    assert provider.verify_identity("张三", PERSON["998"]).reason == "name_mismatch"
    assert provider.verify_identity("张三", PERSON["999"]).reason == "not_found"


def test_a_bureau_answering_5xx_is_retried_a_bounded_number_of_times_then_unavailable(bureau):
    bureau.faults.mode = "error"
    with pytest.raises(BureauUnavailable, match="3 attempts.*HTTP 503"):
        bureau.provider(retries=2).fetch_report("person", PERSON["901"])
    assert bureau.requests == 3


def test_a_passing_failure_is_recovered_by_a_retry(bureau):
    bureau.faults.fail_first = 2
    report = bureau.provider(retries=2).fetch_report("person", PERSON["902"])
    assert report.score == 780 and bureau.requests == 3


def test_no_retries_means_one_attempt(bureau):
    bureau.faults.fail_first = 1
    with pytest.raises(BureauUnavailable):
        bureau.provider(retries=0).fetch_report("person", PERSON["901"])
    assert bureau.requests == 1


def test_a_bureau_slower_than_the_read_timeout_is_unavailable_within_bounded_time(bureau):
    bureau.faults.mode, bureau.faults.delay = "slow", 2.0
    started = time.monotonic()
    with pytest.raises(BureauUnavailable, match="timeout"):
        bureau.provider(read_timeout=0.2, retries=1).fetch_report("person", PERSON["901"])
    assert time.monotonic() - started < 1.5  # two attempts of 0.2 s plus backoff, not the server's 2 s each


def test_a_bureau_that_is_not_listening_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = HttpBureau({"base_url": f"http://127.0.0.1:{port}", "client_id": "c", "secret": SECRET,
                           "retries": 1, "retry_backoff": 0.01, "connect_timeout": 0.5}, tenant_slug="t")
    with pytest.raises(BureauUnavailable, match="connection failed"):
        provider.fetch_report("person", PERSON["901"])


@pytest.mark.parametrize("mode, words", [
    ("malformed", "malformed report"),
    ("bad_signature", "not trusted: bad_signature"),
    ("wrong_nonce", "not trusted: nonce_mismatch"),
    ("unsigned", "not trusted: missing_header"),
])
def test_a_malformed_or_badly_signed_answer_is_unavailable_not_a_report(bureau, mode, words):
    bureau.faults.mode = mode
    with pytest.raises(BureauUnavailable, match=words):
        bureau.provider().fetch_report("person", PERSON["901"])
    assert bureau.requests == 1  # a bad answer is not retried


def test_the_bureau_refuses_a_request_signed_with_the_wrong_secret(bureau):
    wrong = bureau.provider(secret="another-secret-of-enough-length")
    with pytest.raises(BureauUnavailable):
        wrong.fetch_report("person", PERSON["901"])


def test_the_server_refuses_unsigned_and_replayed_requests(bureau):
    body = b'{"subject_id":"%s","subject_type":"person"}' % PERSON["901"].encode()
    unsigned = requests.post(bureau.url + "/v1/reports", data=body, timeout=5)
    assert unsigned.status_code == 401 and unsigned.json()["reason"] == "missing_header"
    headers = signing.sign_headers(SECRET, "POST", "/v1/reports", body, client_id="c")
    assert requests.post(bureau.url + "/v1/reports", data=body, headers=headers, timeout=5).status_code == 200
    replayed = requests.post(bureau.url + "/v1/reports", data=body, headers=headers, timeout=5)
    assert replayed.status_code == 401 and replayed.json()["reason"] == "replayed"


def test_an_answer_about_another_subject_is_refused(bureau, monkeypatch):
    provider = bureau.provider()
    real = provider._post

    def swapped(path, payload):
        data = real(path, payload)
        data["report"]["subject_id"] = PERSON["902"]
        return data

    monkeypatch.setattr(provider, "_post", swapped)
    with pytest.raises(BureauUnavailable, match="another subject"):
        provider.fetch_report("person", PERSON["901"])


def test_the_secret_may_come_from_the_environment(bureau, monkeypatch):
    settings = bureau.settings(secret=None, secret_env="LENDKIT_TEST_BUREAU_SECRET")
    provider = HttpBureau(settings, tenant_slug="t")
    with pytest.raises(BureauUnavailable, match="LENDKIT_TEST_BUREAU_SECRET"):
        provider.fetch_report("person", PERSON["901"])
    monkeypatch.setenv("LENDKIT_TEST_BUREAU_SECRET", SECRET)
    assert provider.fetch_report("person", PERSON["901"]).score == 870


@pytest.mark.parametrize("settings, field", [
    ({"client_id": "c", "secret": SECRET}, "base_url"),
    ({"base_url": "http://x", "client_id": "c"}, "secret"),
    ({"base_url": "http://x", "client_id": "c", "secret": SECRET, "secret_env": "X"}, "secret"),
    ({"base_url": "http://x", "client_id": "c", "secret": "short"}, "secret"),
    ({"base_url": "http://x", "client_id": "c", "secret": SECRET, "retries": 50}, "retries"),
    ({"base_url": "http://x", "client_id": "c", "secret": SECRET, "read_timeout": 0}, "read_timeout"),
])
def test_the_settings_schema_catches_mistakes_at_load_time(settings, field):
    assert field in HttpBureauSettings().validate(settings)


def test_signatures_verify_and_detect_tampering():
    headers = signing.sign_headers(SECRET, "POST", "/v1/reports", b"{}", client_id="c")
    signing.verify_headers(SECRET, "POST", "/v1/reports", headers, b"{}")
    with pytest.raises(signing.BadSignature, match="bad_signature"):
        signing.verify_headers(SECRET, "POST", "/v1/reports", headers, b"{ }")
    with pytest.raises(signing.BadSignature, match="stale_timestamp"):
        signing.verify_headers(SECRET, "POST", "/v1/reports", headers, b"{}", now=time.time() + 3600)


def test_the_reachability_check_asks_the_bureau_for_its_health(bureau):
    bureau.provider().check()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BureauUnavailable):
        HttpBureau(bureau.settings(base_url=f"http://127.0.0.1:{port}"), tenant_slug="test").check()
