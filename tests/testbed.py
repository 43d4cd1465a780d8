"""What test files share besides fixtures: the test tenants and a host-bound client.

Import it as ``from testbed import TEST_TENANTS, HostClient, Kit`` (never
from ``conftest``: several conftest modules exist and the name is ambiguous).
The ``kit`` fixture (tests/conftest.py) is a :class:`Kit`: users, staff with
TOTP, one-time codes from the SMS outbox, KYC and sample identity data.
"""
import contextlib
import io
import re
from pathlib import Path

import pyotp
from sqlalchemy import event

from core.accounts.identity import luhn_check_digit, resident_id_check_digit, uscc_check_char
from core.extensions import db
from core.tenancy import tenant_context

TESTS = Path(__file__).parent
TEST_TENANTS = TESTS / "data" / "tenants"


@contextlib.contextmanager
def statements():
    """``with statements() as seen:`` — ``seen`` lists every SQL statement the app's engine runs inside."""
    seen = []

    def on_execute(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)


class HostClient:
    """A test client bound to one tenant's host: ``client_a.get("/")``."""

    def __init__(self, app, host):
        self.host = host
        self.client = app.test_client()
        self.application = app

    def __getattr__(self, name):
        method = getattr(self.client, name)
        if name in {"get", "post", "put", "patch", "delete", "head", "open"}:
            def call(*args, **kwargs):
                kwargs.setdefault("headers", {})
                kwargs["headers"].setdefault("Host", self.host)
                return method(*args, **kwargs)
            return call
        return method


PASSWORD = "secret-pass-1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 2
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 2


def resident_id(first17: str = "11010519900307001") -> str:
    """A valid 18-character number; sequence ``999`` → bureau not_found, ``998`` → name_mismatch."""
    return first17 + resident_id_check_digit(first17)


def uscc(first17: str = "91350100M000100Y4") -> str:
    return first17 + uscc_check_char(first17)


def bank_card(partial: str = "622202123456789012") -> str:
    return partial + luhn_check_digit(partial)


class Kit:
    PASSWORD = PASSWORD
    PNG = PNG
    JPEG = JPEG
    resident_id = staticmethod(resident_id)
    uscc = staticmethod(uscc)
    bank_card = staticmethod(bank_card)

    def __init__(self, app):
        self.app = app

    # SMS ---------------------------------------------------------------
    def outbox(self, slug: str, mobile: str | None = None) -> list[dict]:
        from plugins.sms_otp.console import ConsoleSms

        return ConsoleSms({}, tenant_slug=slug).messages(mobile)

    def code(self, slug: str, mobile: str) -> str:
        messages = self.outbox(slug, mobile)
        assert messages, f"no SMS to {mobile} at {slug}"
        return re.search(r"\b(\d{6})\b", messages[-1]["text"]).group(1)

    def age_codes(self, tenant, seconds: int) -> None:
        """Pretend every code of ``tenant`` was sent ``seconds`` earlier (cooldowns, expiry)."""
        from datetime import timedelta

        from core.accounts.models import OtpCode

        with tenant_context(tenant):
            for row in db.session.scalars(db.select(OtpCode)):
                row.created_at = row.created_at - timedelta(seconds=seconds)
                row.expires_at = row.expires_at - timedelta(seconds=seconds)
            db.session.commit()

    # users ---------------------------------------------------------------
    def send_code(self, client, mobile: str, purpose: str = "register"):
        return client.post("/api/v1/auth/codes", json={"mobile": mobile, "purpose": purpose})

    def register(self, client, mobile: str, *, password: str = PASSWORD, kind: str = "person", roles=("investor",)) -> dict:
        slug = client.host.split(".")[0]
        sent = self.send_code(client, mobile)
        assert sent.status_code == 202, sent.json
        response = client.post("/api/v1/auth/register", json={
            "mobile": mobile, "code": self.code(slug, mobile), "password": password,
            "kind": kind, "roles": list(roles), "accept_terms": True,
        })
        assert response.status_code == 201, response.json
        return response.json

    def token(self, client, mobile: str, password: str = PASSWORD, totp: str | None = None) -> str:
        body = {"mobile": mobile, "password": password}
        if totp:
            body["totp"] = totp
        response = client.post("/api/v1/auth/tokens", json=body)
        assert response.status_code == 201, response.json
        return response.json["token"]

    def bearer(self, token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def web_login(self, client, mobile: str, password: str = PASSWORD, totp_secret: str | None = None):
        response = client.post("/accounts/login", data={"mobile": mobile, "password": password})
        if totp_secret:
            assert response.status_code == 302 and "/accounts/login/two-factor" in response.headers["Location"], response.get_data(as_text=True)[:2000]
            response = client.post("/accounts/login/two-factor", data={"code": self.totp(totp_secret)})
        return response

    def user(self, tenant, mobile: str):
        from core.accounts.models import User

        with tenant_context(tenant):
            user = User.by_mobile(tenant, mobile)
            return user.id if user else None

    # staff ---------------------------------------------------------------
    def staff(self, tenant, mobile: str, roles=("tenant_admin",), password: str = PASSWORD) -> str:
        """A staff member with a confirmed authenticator; returns the TOTP secret."""
        from datetime import datetime, timezone

        from core.accounts.signin import start_totp_enrolment, totp_secret
        from core.accounts.staffing import create_staff

        with tenant_context(tenant):
            user, _ = create_staff(tenant, mobile=mobile, roles=roles, password=password)
            start_totp_enrolment(tenant, user)
            user.totp_confirmed_at = datetime.now(timezone.utc)
            secret = totp_secret(user)
            db.session.commit()
        return secret

    _used_steps: dict = {}

    def totp(self, secret: str) -> str:
        """A code for ``secret`` never given before (each step is accepted once)."""
        import time

        totp = pyotp.TOTP(secret)
        step = max(totp.timecode(time.time()), self._used_steps.get(secret, -1) + 1)
        self._used_steps[secret] = step
        return totp.generate_otp(step)

    def staff_token(self, client, tenant, mobile: str, roles=("tenant_admin",)) -> str:
        secret = self.staff(tenant, mobile, roles)
        return self.token(client, mobile, totp=self.totp(secret))

    # KYC -----------------------------------------------------------------
    def person_kyc(self, client, token: str, *, name="张三", id_number=None, photos=None):
        photos = photos if photos is not None else {k: (io.BytesIO(PNG), f"{k}.png") for k in ("id_front", "id_back", "id_holding")}
        data = {"real_name": name, "id_number": id_number or resident_id(), **photos}
        return client.post("/api/v1/me/kyc/person", data=data, headers=self.bearer(token), content_type="multipart/form-data")

    def verified_user(self, client, tenant, mobile: str, *, id_number=None, reviewer_mobile="13900000009") -> str:
        """A registered user whose identity a reviewer approved; returns the user's token."""
        self.register(client, mobile)
        token = self.token(client, mobile)
        submitted = self.person_kyc(client, token, id_number=id_number)
        assert submitted.status_code == 201, submitted.json
        staff = self.staff_token(client, tenant, reviewer_mobile, roles=("reviewer",))
        approved = client.post(f"/api/v1/staff/kyc/{submitted.json['id']}/approve", headers=self.bearer(staff))
        assert approved.status_code == 200, approved.json
        return token


def staff_with_totp(app, slug: str, mobile: str, roles=("tenant_admin",), password: str = PASSWORD) -> str:
    """A staff member of tenant ``slug`` of ``app`` (a live server's, say) with a confirmed authenticator;
    returns the TOTP secret."""
    from core.tenancy.models import Tenant

    with app.app_context():
        return Kit(app).staff(Tenant.by_slug(slug), mobile, roles=roles, password=password)


def web_session(client, world, user):
    """A browser session on ``client`` (a :class:`HostClient`) for ``user`` of ``world``'s tenant, opened directly
    (staff pass the second factor); returns the client."""
    from core.accounts.signin import open_session

    token = open_session(world.tenant, user, kind="web", second_factor=True)
    db.session.commit()
    with client.client.session_transaction(base_url=f"http://{client.host}") as session:
        session["tenant_id"] = world.tenant.id
        session["_user_id"] = token
        session["_fresh"] = True
    return client


def page_sign_in(page, url: str, mobile: str, password: str, totp_secret: str | None = None) -> None:
    """Sign in through the real pages in a Playwright ``page`` (``url``: the site's login page); with
    ``totp_secret`` (a staff member) the code of the second step is typed too."""
    import time

    page.goto(url)
    page.fill("input[name=mobile]", mobile)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit]").first.click()
    if totp_secret is None:
        page.wait_for_load_state()
        return
    page.wait_for_url("**/two-factor**")
    totp = pyotp.TOTP(totp_secret)
    page.fill("input[name=code]", totp.generate_otp(totp.timecode(time.time())))
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
