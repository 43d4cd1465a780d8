"""Ed25519 request/response signing: what is signed, and what verification rejects."""
import base64
import time
from pathlib import Path

import pytest

from core.custody.provider import BadSignature
from plugins.payment_custody import signing

BODY = b'{"amount":100,"request_no":"R1"}'
PATH = "/v1/instructions"


@pytest.fixture(scope="module")
def keys():
    private_pem, public_pem = signing.generate_keypair()
    return signing.load_private_key(private_pem), signing.load_public_key(public_pem)


def signed(keys, **kw):
    return signing.sign_headers(keys[0], "POST", PATH, BODY, merchant_id="m1", **kw)


def test_canonical_string_layout():
    text = signing.canonical_string("post", "/v1/x?currency=CNY", "1700000000", "n1", b"")
    assert text.decode().split("\n") == [
        "POST", "/v1/x?currency=CNY", "1700000000", "n1",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256 of b""
    ]


def test_url_path_includes_the_query():
    assert signing.url_path("http://127.0.0.1:9/v1/statements/2025-03-01?currency=CNY") == \
        "/v1/statements/2025-03-01?currency=CNY"
    assert signing.url_path("http://127.0.0.1:9/v1/accounts/a%20b/balance") == "/v1/accounts/a b/balance"
    assert signing.url_path("http://127.0.0.1:9") == "/"


def test_a_signed_request_verifies(keys):
    headers = signed(keys)
    assert set(headers) == {"X-Lendkit-Merchant", "X-Lendkit-Timestamp", "X-Lendkit-Nonce", "X-Lendkit-Signature"}
    lowered = {k.lower(): v for k, v in headers.items()}  # header names are case-insensitive
    assert signing.verify_headers(keys[1], "POST", PATH, lowered, BODY)["X-Lendkit-Merchant"] == "m1"


def expect(reason, keys, method="POST", path=PATH, headers=None, body=BODY, **kw):
    with pytest.raises(BadSignature) as err:
        signing.verify_headers(keys[1], method, path, headers if headers is not None else signed(keys), body, **kw)
    assert err.value.reason == reason


def test_a_tampered_body_is_rejected(keys):
    expect("bad_signature", keys, body=BODY.replace(b"100", b"900"))


def test_a_different_method_or_path_is_rejected(keys):
    expect("bad_signature", keys, method="PUT")
    expect("bad_signature", keys, path="/v1/instructions?x=1")


@pytest.mark.parametrize("header", ["X-Lendkit-Timestamp", "X-Lendkit-Nonce"])
def test_tampered_signed_headers_are_rejected(keys, header):
    headers = signed(keys)
    headers[header] = str(int(headers[header]) - 1) if header == "X-Lendkit-Timestamp" else "another-nonce"
    expect("bad_signature", keys, headers=headers)


def test_a_tampered_signature_is_rejected(keys):
    headers = signed(keys)
    raw = bytearray(base64.b64decode(headers["X-Lendkit-Signature"]))
    raw[0] ^= 0x01  # flip one bit: a real change whatever the signature's first byte was
    headers["X-Lendkit-Signature"] = base64.b64encode(bytes(raw)).decode()
    expect("bad_signature", keys, headers=headers)
    headers["X-Lendkit-Signature"] = "not base64!"
    expect("bad_signature", keys, headers=headers)


def test_another_key_does_not_verify(keys):
    other = signing.load_private_key(signing.generate_keypair()[0])
    headers = signing.sign_headers(other, "POST", PATH, BODY, merchant_id="m1")
    expect("bad_signature", keys, headers=headers)


def test_stale_and_future_timestamps_are_rejected(keys):
    expect("stale_timestamp", keys, headers=signed(keys, timestamp=str(int(time.time()) - 301)))
    expect("stale_timestamp", keys, headers=signed(keys, timestamp=str(int(time.time()) + 301)))
    expect("stale_timestamp", keys, headers=signed(keys, timestamp="yesterday"))
    old = signed(keys, timestamp="1700000000")
    assert signing.verify_headers(keys[1], "POST", PATH, old, BODY, now=1700000100)  # inside its window


def test_missing_headers_are_rejected(keys):
    headers = signed(keys)
    del headers["X-Lendkit-Nonce"]
    expect("missing_header", keys, headers=headers)


def test_responses_must_echo_the_request_nonce(keys):
    headers = signing.sign_headers(keys[0], "RESPONSE 200", PATH, BODY, merchant_id="m1", nonce="n-1")
    signing.verify_headers(keys[1], "RESPONSE 200", PATH, headers, BODY, expected_nonce="n-1")
    expect("nonce_mismatch", keys, method="RESPONSE 200", headers=headers, expected_nonce="n-2")
    expect("bad_signature", keys, method="RESPONSE 500", headers=headers)  # the status is signed too


def test_nonce_cache_spots_replays():
    cache = signing.NonceCache(window=300)
    assert cache.add("m1:n1", now=1000)
    assert not cache.add("m1:n1", now=1100)
    assert cache.add("m1:n2", now=1100)
    assert cache.add("m1:n1", now=1000 + 601)  # long after the window it has been forgotten


def test_key_files(tmp_path):
    private_path, public_path = signing.write_keypair(str(tmp_path / "keys"), "bank")
    key = signing.load_private_key(Path(private_path).read_bytes())
    assert signing.public_pem(key) == Path(public_path).read_bytes()
    with pytest.raises(ValueError):
        signing.load_public_key(Path(private_path).read_bytes())
