"""The ``http`` SMS provider against the reference gateway on 127.0.0.1: signatures, timeouts, typed errors."""
import threading

import pytest
from werkzeug.serving import make_server

from core.sms import SmsError
from plugins.sms_otp.gateway import SmsGateway
from plugins.sms_otp.http import (
    HttpSms,
    HttpSmsSettings,
    SmsBadResponse,
    SmsBadSignature,
    SmsRejected,
    SmsTimeout,
    SmsUnavailable,
    sign,
    verify,
)

SECRET = "0123456789abcdef-secret"


@pytest.fixture
def gateway():
    gw = SmsGateway({"lendkit": SECRET}, slow_seconds=1.5)
    server = make_server("127.0.0.1", 0, gw.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gw.url = f"http://127.0.0.1:{server.server_port}"
    yield gw
    server.shutdown()


def provider(gateway, **settings):
    return HttpSms({"base_url": gateway.url, "key_id": "lendkit", "secret": SECRET, "sender": "Alpha", **settings}, tenant_slug="alpha")


def test_a_message_is_signed_accepted_and_receipted(gateway):
    receipt = provider(gateway).send("13800138000", "[Alpha] 123456 is your code")
    assert receipt.provider == "http" and len(receipt.message_id) == 32
    assert gateway.messages == [{**gateway.messages[0], "to": "13800138000", "text": "[Alpha] 123456 is your code", "sender": "Alpha"}]


def test_a_wrong_secret_is_refused_and_the_answer_is_not_trusted(gateway):
    with pytest.raises(SmsBadSignature):
        HttpSms({"base_url": gateway.url, "key_id": "lendkit", "secret": "another-secret-123"}, tenant_slug="a").send("13800138000", "x")
    assert gateway.messages == []


def test_an_unknown_key_is_rejected(gateway):
    with pytest.raises(SmsError):
        HttpSms({"base_url": gateway.url, "key_id": "stranger", "secret": SECRET}, tenant_slug="a").send("13800138000", "x")


@pytest.mark.parametrize("fault, error", [
    ("down", SmsUnavailable),
    ("reject", SmsRejected),
    ("bad_signature", SmsBadSignature),
    ("garbage", SmsBadResponse),
])
def test_each_gateway_failure_is_a_typed_sms_error(gateway, fault, error):
    gateway.fault = fault
    with pytest.raises(error) as caught:
        provider(gateway).send("13800138000", "x")
    assert isinstance(caught.value, SmsError)
    if fault == "reject":
        assert caught.value.code == "invalid_number" and caught.value.status == 400


def test_a_slow_gateway_times_out(gateway):
    gateway.fault = "slow"
    with pytest.raises(SmsTimeout):
        provider(gateway, read_timeout=0.3).send("13800138000", "x")


def test_an_unreachable_gateway_is_unavailable():
    with pytest.raises(SmsUnavailable):
        HttpSms({"base_url": "http://127.0.0.1:9", "key_id": "k", "secret": SECRET, "connect_timeout": 0.5}, tenant_slug="a").send("13800138000", "x")


def test_signatures_bind_method_path_time_nonce_and_body():
    args = ("POST", "/v1/messages", "1700000000", "n1", b'{"to":"1"}')
    signature = sign(SECRET, *args)
    assert verify(SECRET, signature, *args, now=1700000010)
    assert not verify(SECRET, signature, *args, now=1700000000 + 301)  # stale
    assert not verify(SECRET, signature, "POST", "/v1/messages", "1700000000", "n2", b'{"to":"1"}', now=1700000000)
    assert not verify(SECRET, signature, "POST", "/v1/messages", "1700000000", "n1", b'{"to":"2"}', now=1700000000)
    assert not verify("other-secret-0000", signature, *args, now=1700000000)


def test_a_replayed_request_is_refused_by_the_gateway(gateway):
    import requests

    body = b'{"to":"13800138000","text":"x"}'
    headers = {"X-Sms-Key": "lendkit", "X-Sms-Timestamp": str(int(__import__("time").time())), "X-Sms-Nonce": "fixed"}
    headers["X-Sms-Signature"] = sign(SECRET, "POST", "/v1/messages", headers["X-Sms-Timestamp"], "fixed", body)
    assert requests.post(gateway.url + "/v1/messages", data=body, headers=headers, timeout=5).status_code == 202
    assert requests.post(gateway.url + "/v1/messages", data=body, headers=headers, timeout=5).status_code == 409


def test_settings_are_validated_when_the_tenant_is_loaded():
    assert {"base_url", "key_id"} <= set(HttpSmsSettings().validate({"base_url": "not a url", "key_id": ""}))
    assert "secret" in HttpSmsSettings().validate({"base_url": "https://sms.example.com", "key_id": "k"})
    assert HttpSmsSettings().validate({"base_url": "https://sms.example.com", "key_id": "k", "secret_env": "SMS_SECRET"}) == {}
    assert "secret" in HttpSmsSettings().validate({"base_url": "https://sms.example.com", "key_id": "k", "secret": "short"})


def test_the_secret_may_come_from_the_environment(gateway, monkeypatch):
    monkeypatch.setenv("LENDKIT_TEST_SMS_SECRET", SECRET)
    HttpSms({"base_url": gateway.url, "key_id": "lendkit", "secret_env": "LENDKIT_TEST_SMS_SECRET"}, tenant_slug="a").send("13800138000", "x")
    assert len(gateway.messages) == 1


def test_a_tenant_on_the_http_provider_registers_users_through_the_gateway(gateway, client_a, tenant_a):
    from core.extensions import db

    config = dict(tenant_a.config)
    config["providers"] = {**config["providers"], "sms": {"name": "http", "settings": {"base_url": gateway.url, "key_id": "lendkit", "secret": SECRET}}}
    tenant_a.config = config
    db.session.commit()
    assert client_a.post("/api/v1/auth/codes", json={"mobile": "13800138000", "purpose": "register"}).status_code == 202
    import re

    code = re.search(r"\b(\d{6})\b", gateway.messages[-1]["text"]).group(1)
    response = client_a.post("/api/v1/auth/register", json={"mobile": "13800138000", "code": code, "password": "secret-pass-1", "accept_terms": True})
    assert response.status_code == 201
    gateway.fault = "down"
    failed = client_a.post("/api/v1/auth/codes", json={"mobile": "13900139000", "purpose": "register"})
    assert failed.status_code == 503


def test_the_reachability_check_is_a_signed_health_call(gateway):
    provider(gateway).check()  # up, and it knows our key
    with pytest.raises(SmsBadSignature):  # a wrong secret: the gateway's answer cannot be trusted either
        HttpSms({"base_url": gateway.url, "key_id": "lendkit", "secret": "another-secret-0123456789"}, tenant_slug="alpha").check()
    with pytest.raises(SmsBadSignature):  # an account the gateway does not know: its 401 is unsigned
        HttpSms({"base_url": gateway.url, "key_id": "nobody", "secret": SECRET}, tenant_slug="alpha").check()
    gateway.fault = "down"
    with pytest.raises(SmsUnavailable):
        provider(gateway).check()
    with pytest.raises(SmsUnavailable):
        HttpSms({"base_url": "http://127.0.0.1:9", "key_id": "lendkit", "secret": SECRET}, tenant_slug="alpha").check()
