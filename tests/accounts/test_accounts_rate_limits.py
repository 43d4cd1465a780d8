"""Rate limits on sign-in, code sending and registration, per number and per IP, per tenant: 429."""
import pytest

MOBILE = "13800138000"


@pytest.fixture
def tight(make_app, monkeypatch, tmp_path):
    """An app whose limits are small enough to reach in a test."""
    from core.extensions import db
    from core.tenancy.sync import sync_tenants
    from testbed import HostClient

    monkeypatch.chdir(tmp_path)
    application = make_app(
        ACCOUNTS_LIMIT_LOGIN_IP="6/minute", ACCOUNTS_LIMIT_LOGIN_MOBILE="3/minute",
        ACCOUNTS_LIMIT_CODE_IP="4/minute", ACCOUNTS_LIMIT_CODE_MOBILE="2/minute",
        ACCOUNTS_LIMIT_REGISTER_IP="3/minute", ACCOUNTS_LIMIT_REGISTER_MOBILE="2/minute",
    )
    with application.app_context():
        sync_tenants()
        yield HostClient(application, "alpha.test"), HostClient(application, "beta.test")
        db.session.remove()


def _login(client, mobile=MOBILE, ip="10.0.0.1"):
    return client.post("/api/v1/auth/tokens", json={"mobile": mobile, "password": "wrong-pass-1"}, environ_base={"REMOTE_ADDR": ip})


def test_sign_in_is_limited_per_number_with_the_api_error_body(tight):
    alpha, _ = tight
    assert [_login(alpha, ip=f"10.0.0.{i}").status_code for i in range(3)] == [401, 401, 401]
    limited = _login(alpha, ip="10.0.0.9")
    assert limited.status_code == 429
    assert set(limited.json) >= {"code", "status", "message"} and limited.json["code"] == 429
    assert "Retry-After" in limited.headers
    assert _login(alpha, mobile="13900139000", ip="10.0.0.9").status_code == 401  # another number is not limited


def test_sign_in_is_limited_per_ip(tight):
    alpha, _ = tight
    codes = [_login(alpha, mobile=f"1380000000{i}").status_code for i in range(7)]
    assert codes[:6] == [401] * 6 and codes[6] == 429
    assert _login(alpha, mobile="13800000009", ip="10.0.0.2").status_code == 401


def test_limits_are_per_tenant(tight):
    alpha, beta = tight
    for i in range(3):
        _login(alpha, ip=f"10.0.0.{i}")
    assert _login(alpha, ip="10.0.1.1").status_code == 429
    assert _login(beta, ip="10.0.1.1").status_code == 401


def test_the_sign_in_page_shows_a_message_when_limited(tight):
    alpha, _ = tight
    for _ in range(3):
        alpha.post("/accounts/login", data={"mobile": MOBILE, "password": "wrong-pass-1"})
    page = alpha.post("/accounts/login", data={"mobile": MOBILE, "password": "wrong-pass-1"})
    assert page.status_code == 429 and "Please wait a little before trying again." in page.get_data(as_text=True)
    assert alpha.get("/accounts/login").status_code == 200  # reading the page is never limited


def test_code_sending_is_limited_per_number_and_per_ip(tight):
    alpha, _ = tight
    send = lambda mobile, ip="10.0.0.1": alpha.post("/api/v1/auth/codes", json={"mobile": mobile, "purpose": "register"}, environ_base={"REMOTE_ADDR": ip})
    assert send(MOBILE).status_code == 202
    assert send(MOBILE).status_code == 429  # the engine's cooldown answers first
    assert send(MOBILE, ip="10.0.0.2").status_code == 429  # the per-number limit (2/minute) now
    assert send("13900139000").status_code == 202
    assert send("13700137000").status_code == 202
    assert send("13600136000").status_code == 429  # the 5th request from 10.0.0.1 this minute (4/minute)


def test_registration_is_limited_per_ip(tight):
    alpha, _ = tight
    for i in range(3):
        response = alpha.post("/api/v1/auth/register", json={"mobile": f"1380000000{i}", "code": "123456", "password": "secret-pass-1", "accept_terms": True})
        assert response.status_code == 422
    assert alpha.post("/api/v1/auth/register", json={"mobile": "13800000005", "code": "123456", "password": "secret-pass-1", "accept_terms": True}).status_code == 429


def test_registration_is_limited_per_number(tight):
    alpha, _ = tight
    register = lambda ip: alpha.post("/api/v1/auth/register", json={"mobile": MOBILE, "code": "123456", "password": "secret-pass-1", "accept_terms": True},
                                     environ_base={"REMOTE_ADDR": ip})
    assert [register(f"10.0.0.{i}").status_code for i in range(2)] == [422, 422]
    assert register("10.0.0.9").status_code == 429  # a third address does not help (2/minute per number)
    assert alpha.post("/api/v1/auth/register", json={"mobile": "13900139000", "code": "123456", "password": "secret-pass-1", "accept_terms": True},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 422


def test_limits_are_kept_in_memory_by_default_and_in_redis_when_configured(make_app):
    from limits.storage import MemoryStorage, RedisStorage

    from core.extensions import limiter

    default = make_app()
    assert default.config["RATELIMIT_STORAGE_URI"] == "memory://"
    with default.app_context():
        assert isinstance(limiter.storage, MemoryStorage)
    shared = make_app(LENDKIT_REDIS_URL="redis://127.0.0.1:6399/0")  # no server needed to build the client
    assert shared.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6399/0"
    with shared.app_context():
        assert isinstance(limiter.storage, RedisStorage)
    make_app()  # later tests in this process get memory storage back


def test_the_send_code_button_and_the_register_button_count_separately(tight):
    alpha, _ = tight
    for _ in range(2):
        alpha.post("/accounts/register", data={"action": "submit", "mobile": MOBILE, "code": "123456"})
    assert alpha.post("/accounts/register", data={"action": "send_code", "mobile": MOBILE}).status_code == 200
    assert alpha.post("/accounts/register", data={"action": "submit", "mobile": MOBILE, "code": "123456"}).status_code == 429
