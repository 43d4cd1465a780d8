"""A client walks the whole delivery process, requirements → operating, every gate passed for real.

Tenant alpha is seeded with its demo, signed off, cleared of demo money and
pointed at real providers over HTTP (the sandbox bank server, the reference
SMS gateway, the sandbox bureau server), accepted, given its manuals and its
trained staff, loaded with the sample base data (the bank already holding
those sub-accounts), checked against the go-live list and reconciled.
"""
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from core.delivery.gates import REQUIRED_ROLES
from core.delivery.models import StageChange
from core.delivery.stages import STAGES
from core.extensions import db
from core.tenancy.models import Tenant, TenantHost
from plugins.credit_bureau.bureau_server import create_bureau_app
from plugins.payment_custody.preload import preload_csv
from plugins.sms_otp.gateway import SmsGateway
from testbed import TEST_TENANTS

from flow_fixtures import bank_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "docs" / "samples" / "base-data"
SECRET = "walk-shared-secret-0123456789"


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class Served:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def client_folder(app, tmp_path):
    """Alpha's folder as the vendor keeps it: requirements, legal documents in every locale."""
    folder = tmp_path / "tenants"
    shutil.copytree(TEST_TENANTS, folder)
    alpha = folder / "alpha"
    (alpha / "requirements.yaml").write_text("client: {slug: alpha}\n", encoding="utf-8")
    (alpha / "seed").mkdir(exist_ok=True)
    (alpha / "seed" / "notices.yaml").write_text(
        "- key: welcome\n  kind: announcement\n  title: Welcome to Alpha Lending\n"
        "  published_at: \"2026-11-01T09:00:00+08:00\"\n  body: Alpha Lending opens soon.\n", encoding="utf-8")
    legal = alpha / "legal"
    legal.mkdir(exist_ok=True)
    for locale in ("en", "zh_CN"):
        (legal / f"terms.{locale}.md").write_text("# Terms\n", encoding="utf-8")
        (legal / f"privacy.{locale}.md").write_text("# Privacy\n", encoding="utf-8")
        shutil.copy(ROOT / "themes" / "default" / "templates" / "lending" / f"loan_contract.{locale}.html",
                    legal / f"loan_contract.{locale}.html")
    app.config["LENDKIT_TENANTS_DIR"] = str(folder)
    return folder


@pytest.fixture
def services():
    gateway = SmsGateway({"alpha": SECRET})
    sms = Served(gateway.app())
    bureau = Served(create_bureau_app(SECRET))
    yield {"sms": sms, "bureau": bureau, "gateway": gateway}
    sms.close()
    bureau.close()


def _advance(lendkit, stage):
    result = lendkit("tenant", "advance", "alpha")
    assert result.exit_code == 0, result.output
    assert f"alpha is now {stage}" in result.output
    return result.output


def _providers(tenant_id, services):
    tenant = db.session.get(Tenant, tenant_id)
    providers = dict(tenant.config["providers"])
    providers["sms"] = {"name": "http", "settings": {"base_url": services["sms"].url, "key_id": "alpha",
                                                     "secret": SECRET, "sender": "Alpha"}}
    providers["credit_bureau"] = {"name": "http", "settings": {"base_url": services["bureau"].url,
                                                               "client_id": "alpha", "secret": SECRET}}
    tenant.config = {**tenant.config, "providers": providers}
    db.session.commit()


def test_a_client_goes_from_requirements_to_operating(app, tenant_a, client_folder, bank_server, services,  # noqa: F811
                                                      lendkit, kit, monkeypatch):
    # requirements → demo: the branded site with demo people and listings
    assert lendkit("tenant", "seed", "alpha").exit_code == 0
    _advance(lendkit, "demo")
    # demo → confirmed: the client signs off what they saw
    assert lendkit("tenant", "sign-off", "alpha", "--by", "Chen, CEO").exit_code == 0
    _advance(lendkit, "confirmed")
    # confirmed → configured: demo money cleared, real providers chosen and answering
    refused = lendkit("tenant", "advance", "alpha")
    assert refused.exit_code == 1 and "[FAIL] production custody bank chosen" in refused.output
    assert "[FAIL] no demo money or loans left" in refused.output
    assert lendkit("tenant", "clear-demo", "alpha", "--confirm", "alpha").exit_code == 0
    bank = bank_server()  # alpha's custody provider is now `http`, to the sandbox bank server
    _providers(tenant_a.id, services)
    output = _advance(lendkit, "configured")
    assert "[pass] custody bank reachable" in output and "[pass] SMS provider reachable" in output
    # configured → tested: the acceptance suite of alpha's own products
    accepted = lendkit("tenant", "accept", "alpha")
    assert accepted.exit_code == 0, accepted.output
    _advance(lendkit, "tested")
    # tested → delivered: manuals for this client
    assert lendkit("tenant", "manuals", "alpha").exit_code == 0
    _advance(lendkit, "delivered")
    # delivered → trained: a staff member with two-factor sign-in for every required role
    for number, role in enumerate(REQUIRED_ROLES):
        kit.staff(tenant_a, f"1390000990{number}", roles=(role,))
    _advance(lendkit, "trained")
    # trained → data_loaded: the client's users, loans and repayments, reconciled with the bank
    assert preload_csv(bank.engine, SAMPLES / "sandbox-bank-accounts.csv", "CNY") == 5
    imported = lendkit("tenant", "import", "alpha", "--users", str(SAMPLES / "users.csv"),
                       "--loans", str(SAMPLES / "loans.csv"), "--repayments", str(SAMPLES / "repayments.csv"),
                       "--as-of", "2026-11-20")
    assert imported.exit_code == 0, imported.output
    _advance(lendkit, "data_loaded")
    # data_loaded → live: the go-live checklist, all green
    refused = lendkit("tenant", "advance", "alpha")
    assert refused.exit_code == 1 and "[FAIL] running in production mode" in refused.output
    monkeypatch.setitem(app.config, "LENDKIT_ENV", "production")
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-real-secret-key-for-alpha-0123456789abcdef")
    monkeypatch.setitem(app.config, "LENDKIT_BACKUP_TARGET", "s3://alpha-backups/nightly")
    db.session.add(TenantHost(tenant_id=tenant_a.id, host="www.alpha-lending.example.com"))
    db.session.commit()
    output = _advance(lendkit, "live")
    assert "[pass] compliance pack" in output and "[pass] no sandbox custody bank" in output
    # live → operating: the first day's reconciliation with the bank is clean
    day = datetime.now(timezone.utc).astimezone().date().isoformat()
    reconciled = lendkit("reconcile", "--tenant", "alpha", "--date", day)
    assert reconciled.exit_code == 0, reconciled.output
    _advance(lendkit, "operating")
    changes = db.session.query(StageChange).filter_by(tenant_id=tenant_a.id).order_by(StageChange.id).all()
    assert [c.to_stage for c in changes] == list(STAGES[1:])
