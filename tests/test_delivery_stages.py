"""Delivery stages: a tenant moves forward only through a passing gate, every change is recorded."""
import shutil

import pytest
import yaml

from core.delivery import gates  # noqa: F401  (registers the gates)
from core.delivery.models import SignOff, StageChange
from core.delivery.stages import STAGES, StageError, advance, record_sign_off, run_gate, send_back
from core.extensions import db
from core.notices.models import Notice
from core.plugins import get_plugin_manager
from core import hookimpl
from core.tenancy import tenant_context
from testbed import TEST_TENANTS


@pytest.fixture
def tenants_dir(app, tmp_path):
    folder = tmp_path / "tenants"
    shutil.copytree(TEST_TENANTS, folder)
    (folder / "alpha" / "requirements.yaml").write_text("client: {slug: alpha}\n")
    app.config["LENDKIT_TENANTS_DIR"] = str(folder)
    return folder


def checks_by_name(checks):
    return {c.name: c for c in checks}


def test_the_stages_are_the_delivery_process_in_order():
    assert STAGES == (
        "requirements", "demo", "confirmed", "configured", "tested",
        "delivered", "trained", "data_loaded", "live", "operating",
    )


def test_the_demo_gate_needs_demo_data_and_says_why(tenant_a, tenants_dir):
    moved, target, checks = advance(tenant_a, actor="op")
    assert (moved, target) == (False, "demo")
    named = checks_by_name(checks)
    assert named["home page renders"].passed and named["the loan listings render"].passed
    assert not named["demo data loaded"].passed and "lendkit tenant seed" in named["demo data loaded"].detail
    assert tenant_a.stage == "requirements"
    assert db.session.query(StageChange).count() == 0


def test_the_demo_gate_passes_its_data_check_once_seeded(tenant_a, tenants_dir):
    with tenant_context(tenant_a):
        db.session.add(Notice(key="n", title="t", body="b"))
        db.session.commit()
    named = checks_by_name(run_gate(tenant_a, "demo"))
    assert named["demo data loaded"].passed and named["demo data loaded"].detail == "1 notices"


def test_a_sign_off_records_who_and_the_digests_and_opens_the_confirmed_gate(tenant_a, tenants_dir):
    tenant_a.stage = "demo"
    db.session.commit()
    sign_off = record_sign_off(tenant_a, "Client CEO", recorded_by="op")
    assert len(sign_off.requirements_digest) == 64 and "lendkit" in sign_off.demo_version
    moved, target, checks = advance(tenant_a, actor="op")
    assert moved and target == "confirmed" and tenant_a.stage == "confirmed"
    change = db.session.query(StageChange).one()
    assert (change.from_stage, change.to_stage, change.action, change.actor) == ("demo", "confirmed", "advance", "op")
    assert {c["name"] for c in change.checks} >= {"sign-off recorded", "requirements unchanged since sign-off"}


def test_a_recorded_stage_change_keeps_its_checks_as_plain_strings(tenant_a, tenants_dir):
    """Stored as JSON, in the language of the request that recorded them."""
    import json

    from flask_babel import force_locale
    from flask_babel import lazy_gettext as _l

    from core.delivery.stages import Check

    tenant_a.stage = "demo"
    db.session.commit()
    record_sign_off(tenant_a, "Client CEO", recorded_by="op")
    with force_locale("zh_CN"):
        moved, _, checks = advance(tenant_a, actor="op")
    assert moved
    assert all(type(c.name) is str and type(c.detail) is str for c in checks)
    db.session.expire_all()
    stored = db.session.query(StageChange).one().checks
    assert json.loads(json.dumps(stored)) == stored
    assert all(type(c["name"]) is str and type(c["detail"]) is str for c in stored)
    assert {c["name"] for c in stored} >= {"已记录确认签字", "签字后需求未变更"}
    lazy = Check(_l("gate"), False, _l("no gate is defined for %(stage)s", stage="nowhere")).as_dict()
    assert json.dumps(lazy) == '{"name": "gate", "passed": false, "detail": "no gate is defined for nowhere"}'


def test_changed_requirements_after_sign_off_fail_the_gate(tenant_a, tenants_dir):
    tenant_a.stage = "demo"
    db.session.commit()
    record_sign_off(tenant_a, "Client CEO", recorded_by="op")
    (tenants_dir / "alpha" / "requirements.yaml").write_text("client: {slug: alpha, changed: true}\n")
    moved, _, checks = advance(tenant_a, actor="op")
    assert not moved
    assert not checks_by_name(checks)["requirements unchanged since sign-off"].passed


def test_a_sign_off_needs_the_demo_stage_and_a_name(tenant_a, tenants_dir):
    with pytest.raises(StageError, match="demo stage"):
        record_sign_off(tenant_a, "Someone", recorded_by="op")
    tenant_a.stage = "demo"
    with pytest.raises(StageError, match="name is required"):
        record_sign_off(tenant_a, "  ", recorded_by="op")
    assert db.session.query(SignOff).count() == 0


def test_the_configured_gate_refuses_development_providers(tenant_a, tenants_dir):
    named = checks_by_name(run_gate(tenant_a, "configured"))
    assert named["tenant.yaml valid (branding, providers)"].passed
    assert not named["production custody bank chosen"].passed
    assert "development" in named["production SMS provider chosen"].detail
    assert named["loan products valid"].passed  # the test tenants ship products


def test_the_live_checklist_lists_each_missing_item(tenant_a, tenants_dir):
    named = checks_by_name(run_gate(tenant_a, "live"))
    for name in ["no sandbox custody bank", "running in production mode", "public host names", "backups configured", "terms (en) present"]:
        assert not named[name].passed, name
    legal = tenants_dir / "alpha" / "legal"
    legal.mkdir()
    for locale in ("en", "zh_CN"):
        (legal / f"terms.{locale}.md").write_text("terms")
    named = checks_by_name(run_gate(tenant_a, "live"))
    assert named["terms (en) present"].passed and named["terms (zh_CN) present"].passed
    assert not named["privacy (en) present"].passed


def test_a_stage_is_sent_back_with_a_reason_and_announced(tenant_a, tenants_dir):
    events = []

    class Listener:
        @hookimpl
        def tenant_stage_changed(self, tenant, old_stage, new_stage, reason):
            events.append((tenant.slug, old_stage, new_stage, reason))

    get_plugin_manager().register(Listener(), name="stage-listener")
    try:
        tenant_a.stage = "configured"
        db.session.commit()
        with pytest.raises(StageError, match="reason is required"):
            send_back(tenant_a, "demo", actor="op", reason=" ")
        with pytest.raises(StageError, match="not earlier"):
            send_back(tenant_a, "live", actor="op", reason="x")
        with pytest.raises(StageError, match="unknown stage"):
            send_back(tenant_a, "nowhere", actor="op", reason="x")
        send_back(tenant_a, "demo", actor="op", reason="client changed the logo")
    finally:
        get_plugin_manager().unregister(name="stage-listener")
    assert tenant_a.stage == "demo"
    assert events == [("alpha", "configured", "demo", "client changed the logo")]
    change = db.session.query(StageChange).one()
    assert change.action == "send_back" and change.reason == "client changed the logo"


def test_the_cli_prints_each_check_and_exits_non_zero_when_the_gate_fails(lendkit, tenants_dir):
    result = lendkit("tenant", "advance", "alpha")
    assert result.exit_code == 1
    assert "alpha: requirements → demo" in result.output
    assert "[pass] home page renders" in result.output
    assert "[FAIL] demo data loaded" in result.output
    assert "alpha stays requirements" in result.output


def test_the_cli_prints_the_gate_in_english_whatever_the_tenant_s_language(lendkit, tenants_dir):
    result = lendkit("tenant", "gates", "beta")  # beta's site is Chinese; the demo gate visits its pages
    assert "beta: requirements → demo" in result.output
    assert "[pass] home page renders: GET / answered 200" in result.output
    assert "[FAIL] demo data loaded: 0 notices; run `lendkit tenant seed`" in result.output


def test_gates_prints_every_check_and_exits_1_when_one_fails(lendkit, tenants_dir):
    result = lendkit("tenant", "gates", "alpha")
    assert result.exit_code == 1, result.output
    assert "[pass] home page renders" in result.output and "[FAIL] demo data loaded" in result.output
    assert "alpha: the demo gate does not pass: 2 checks of 4 failed" in result.output
    assert db.session.query(StageChange).count() == 0  # gates changes nothing


def test_gates_exits_0_when_every_check_passes(lendkit, tenant_a, tenants_dir):
    tenant_a.stage = "demo"
    db.session.commit()
    record_sign_off(tenant_a, "Client CEO", recorded_by="op")
    result = lendkit("tenant", "gates", "alpha")
    assert result.exit_code == 0, result.output
    assert "alpha: demo → confirmed" in result.output and "[FAIL]" not in result.output


def test_the_cli_refuses_an_unknown_tenant(lendkit, tenants_dir):
    result = lendkit("tenant", "advance", "nobody")
    assert result.exit_code == 1 and "no tenant 'nobody'" in result.output


def test_stage_records_of_one_tenant_do_not_move_another(tenant_a, tenant_b, tenants_dir):
    tenant_a.stage = "configured"
    db.session.commit()
    send_back(tenant_a, "demo", actor="op", reason="r")
    assert tenant_b.stage == "requirements"
    assert db.session.query(StageChange).filter_by(tenant_id=tenant_b.id).count() == 0


def test_manuals_are_generated_as_html_and_pdf_and_open_the_delivered_gate(app, tenant_a, tenants_dir, lendkit):
    named = checks_by_name(run_gate(tenant_a, "delivered"))
    assert not named["operations-manual.pdf generated"].passed
    result = lendkit("tenant", "manuals", "alpha")
    assert result.exit_code == 0, result.output
    folder = tenants_dir / "alpha" / "manuals"
    html = (folder / "operations-manual.html").read_text(encoding="utf-8")
    assert "Alpha Lending" in html and "lendkit reconcile --tenant alpha" in html
    assert (folder / "admin-guide.pdf").read_bytes().startswith(b"%PDF")
    assert all(c.passed for c in run_gate(tenant_a, "delivered"))


def test_a_manual_masks_provider_secrets(app, tenant_a, tenants_dir):
    from core.delivery.manuals import _masked

    assert _masked("private_key_pem", "-----BEGIN") == "••••••"
    assert _masked("base_url", "https://bank.example") == "https://bank.example"


def test_the_trained_gate_needs_each_role_with_two_factor_sign_in(tenant_a, tenants_dir, kit):
    (tenants_dir / "alpha" / "requirements.yaml").write_text("staff:\n  - {role: tenant_admin, name: A, mobile: '13900000001'}\n  - {role: reviewer, name: R, mobile: '13900000002'}\n")
    named = checks_by_name(run_gate(tenant_a, "trained"))
    assert set(named) == {"tenant_admin with two-factor sign-in", "reviewer with two-factor sign-in"}
    assert not any(c.passed for c in named.values())
    kit.staff(tenant_a, "13900000001", roles=("tenant_admin",))
    kit.staff(tenant_a, "13900000002", roles=("reviewer",))
    assert all(c.passed for c in run_gate(tenant_a, "trained"))


def test_the_operating_gate_needs_a_clean_first_reconciliation(tenant_a, tenants_dir):
    from datetime import date

    from core.custody.models import ReconciliationRun

    named = checks_by_name(run_gate(tenant_a, "operating"))
    assert not named["first day's reconciliation clean"].passed and "lendkit reconcile" in named["first day's reconciliation clean"].detail
    with tenant_context(tenant_a):
        db.session.add(ReconciliationRun(day=date(2026, 11, 20), currency="CNY", provider="sandbox", status="differences", difference_count=2))
        db.session.commit()
    assert not run_gate(tenant_a, "operating")[0].passed
    with tenant_context(tenant_a):
        db.session.add(ReconciliationRun(day=date(2026, 11, 20), currency="CNY", provider="sandbox", status="clean", difference_count=0))
        db.session.commit()
    assert run_gate(tenant_a, "operating")[0].passed


def test_the_live_checklist_asks_the_compliance_pack(tenant_a, tenants_dir):
    tenant_a.config = {**tenant_a.config, "compliance": "cn-2016", "risk": {**tenant_a.config.get("risk", {}), "reserve_pays_investors": True}}
    db.session.commit()
    named = checks_by_name(run_gate(tenant_a, "live"))
    check = named["compliance pack cn-2016 passes"]
    assert not check.passed and "reserve" in check.detail
    tenant_a.config = {**tenant_a.config, "risk": {**tenant_a.config["risk"], "reserve_pays_investors": False}}
    db.session.commit()
    assert checks_by_name(run_gate(tenant_a, "live"))["compliance pack cn-2016 passes"].passed
