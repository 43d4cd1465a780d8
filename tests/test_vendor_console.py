"""The vendor console: its own host, operators with password and TOTP, the delivery actions."""
from datetime import datetime, timedelta, timezone

import pyotp
import pytest

from core.delivery.models import StageChange
from core.extensions import db
from core.vendor.auth import SignInRefused, create_operator, sign_in
from core.vendor.models import VendorOperator
from testbed import HostClient

PASSWORD = "correct horse 42 battery"


@pytest.fixture
def operator(app):
    operator, uri = create_operator("ops", "Olga Operator", PASSWORD)
    return operator


@pytest.fixture
def console(app):
    return HostClient(app, "vendor.localhost")


def code_for(operator, when=None):
    return pyotp.TOTP(operator.totp_secret).at(when or datetime.now(timezone.utc))


def signed_in(console, operator):
    response = console.post("/console/login", data={"login": "ops", "password": PASSWORD, "code": code_for(operator)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return console


def test_the_console_is_served_only_on_the_vendor_host(console, client_a):
    assert console.get("/").headers["Location"].endswith("/console/")
    assert console.get("/console/login").status_code == 200
    assert console.get("/notices").status_code == 404  # no tenant page on the vendor host
    assert console.get("/api/v1/notices").status_code == 404
    assert client_a.get("/console/login").status_code == 404  # no console on a tenant host
    assert client_a.get("/console/").status_code == 404


def test_pages_need_a_signed_in_operator(console):
    response = console.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    assert console.post("/console/tenants/alpha/advance").status_code == 302


def test_sign_in_needs_password_and_a_fresh_totp_code(app, operator):
    with app.test_request_context("/"):
        with pytest.raises(SignInRefused):
            sign_in("ops", "wrong password", code_for(operator))
        with pytest.raises(SignInRefused):
            sign_in("ops", PASSWORD, "000000")
        with pytest.raises(SignInRefused):
            sign_in("nobody", PASSWORD, code_for(operator))
        code = code_for(operator)
        assert sign_in("ops", PASSWORD, code).login == "ops"
        with pytest.raises(SignInRefused):
            sign_in("ops", PASSWORD, code)  # the same code never works twice


def test_repeated_failures_lock_the_operator_out(app, operator):
    now = datetime.now(timezone.utc)
    with app.test_request_context("/"):
        for _ in range(5):
            with pytest.raises(SignInRefused):
                sign_in("ops", "wrong", code_for(operator, now), now=now)
        with pytest.raises(SignInRefused, match="Too many failed attempts"):
            sign_in("ops", PASSWORD, code_for(operator, now), now=now)
        later = now + timedelta(minutes=31)
        assert sign_in("ops", PASSWORD, code_for(operator, later), now=later).login == "ops"


def test_weak_passwords_and_duplicate_logins_are_refused(app, operator):
    with pytest.raises(ValueError, match="password"):
        create_operator("newbie", "N", "short")
    with pytest.raises(ValueError, match="already exists"):
        create_operator("OPS", "Again", PASSWORD)


def test_the_tenant_list_and_a_gate_run_from_the_console(console, operator):
    signed_in(console, operator)
    page = console.get("/console/").get_data(as_text=True)
    assert "Alpha Lending" in page and "Beta Credit" in page and "Olga Operator" in page
    detail = console.get("/console/tenants/alpha").get_data(as_text=True)
    assert "Gate to demo" in detail and "home page renders" in detail and "demo data loaded" in detail
    assert console.get("/console/tenants/nobody").status_code == 404


def test_the_gate_checks_are_shown_in_the_page_s_language(console, operator, tenant_a, tenant_b):
    """The checks are translated with the rest of the page, commands kept; the tenant pages the demo
    gate visits (alpha is English, beta Chinese by default) do not change the console's language."""
    signed_in(console, operator)
    chinese = console.get("/console/tenants/alpha", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "进入「演示」阶段的检查" in chinese
    assert "首页可正常显示" in chinese and "GET / 返回 200" in chinese
    assert "已载入演示数据" in chinese and "0 条公告；请运行 `lendkit tenant seed`" in chinese
    assert "demo data loaded" not in chinese and "notices" not in chinese
    english = console.get("/console/tenants/beta").get_data(as_text=True)
    assert "Gate to demo" in english
    assert "demo data loaded" in english and "0 notices; run `lendkit tenant seed`" in english
    assert "已载入演示数据" not in english and "进入「演示」阶段的检查" not in english
    tenant_a.stage = "confirmed"  # the configured gate names each provider family
    db.session.commit()
    chinese = console.get("/console/tenants/alpha", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "已选用生产环境的存管银行" in chinese and "sandbox 仅供开发和演示使用" in chinese
    assert "短信服务商可连通" in chinese and "未使用沙箱" not in chinese
    english = console.get("/console/tenants/alpha").get_data(as_text=True)
    assert "production custody bank chosen" in english and "sandbox is for development and demos only" in english
    assert "SMS provider reachable" in english


def test_the_stages_are_named_in_the_page_s_language(console, operator, tenant_a):
    """Stage names on the console are translated; the identifiers stay what the CLI and history use."""
    signed_in(console, operator)
    tenant_a.stage = "configured"
    db.session.commit()
    chinese = console.get("/console/tenants/alpha", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "推进到「已测试」" in chinese and '<span class="tag">已配置</span>' in chinese
    assert all(label in chinese for label in ("需求", "演示", "已确认", "数据已导入", "已上线", "运营中"))
    assert '<option value="requirements">需求</option>' in chinese  # the send-back choice posts the identifier
    listing = console.get("/console/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<span class="tag">已配置</span>' in listing and "<td>已测试</td>" in listing
    english = console.get("/console/tenants/alpha").get_data(as_text=True)
    assert "Advance to tested" in english and '<span class="tag">configured</span>' in english
    back = console.post("/console/tenants/alpha/send-back", data={"to_stage": "demo", "reason": "新的需求"},
                        headers={"Accept-Language": "zh-CN"}, follow_redirects=True).get_data(as_text=True)
    assert "已退回到「演示」阶段" in back
    db.session.refresh(tenant_a)
    assert tenant_a.stage == "demo"


def test_a_failing_gate_is_shown_first_and_its_advance_button_is_disabled(console, operator, tenant_a):
    signed_in(console, operator)
    page = console.get("/console/tenants/alpha").get_data(as_text=True)
    blocked = page[page.index('data-gate="failing"'):page.index('<ul class="checks">')]
    assert "2 checks fail:" in blocked and "demo data loaded" in blocked and "a listing renders" in blocked
    assert "home page renders" not in blocked  # only the failing checks
    assert "These checks must pass before Alpha Lending can advance to demo." in blocked
    advance = page[page.index("/console/tenants/alpha/advance"):page.index("</form>", page.index("/console/tenants/alpha/advance"))]
    assert 'class="button button-secondary" disabled aria-describedby="advance-hint"' in advance
    assert "button-primary" not in advance and "Advance to demo" in advance
    # the server refuses a forced advance all the same
    refused = console.post("/console/tenants/alpha/advance", follow_redirects=True).get_data(as_text=True)
    assert "The demo gate did not pass: 2 check(s) failed." in refused
    db.session.refresh(tenant_a)
    assert tenant_a.stage == "requirements" and db.session.query(StageChange).count() == 0
    chinese = console.get("/console/tenants/alpha", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'data-gate="failing"' in chinese and "已载入演示数据" in chinese


def test_a_passing_gate_offers_advance_as_the_primary_action(app, console, operator, tenant_a, tmp_path):
    import shutil

    from core.delivery.stages import record_sign_off
    from testbed import TEST_TENANTS

    shutil.copytree(TEST_TENANTS, tmp_path / "tenants")
    (tmp_path / "tenants" / "alpha" / "requirements.yaml").write_text("client: {slug: alpha}\n")
    app.config["LENDKIT_TENANTS_DIR"] = str(tmp_path / "tenants")
    tenant_a.stage = "demo"
    db.session.commit()
    record_sign_off(tenant_a, "Client CEO", recorded_by="op")
    signed_in(console, operator)
    page = console.get("/console/tenants/alpha").get_data(as_text=True)
    assert 'data-gate="failing"' not in page
    advance = page[page.index("/console/tenants/alpha/advance"):page.index("</form>", page.index("/console/tenants/alpha/advance"))]
    assert 'class="button button-primary"' in advance and "disabled" not in advance


def test_actions_from_the_console_are_recorded_with_the_operator(console, operator, tenant_a):
    signed_in(console, operator)
    response = console.post("/console/tenants/alpha/advance", follow_redirects=True)
    assert "The demo gate did not pass" in response.get_data(as_text=True)
    tenant_a.stage = "configured"
    db.session.commit()
    response = console.post("/console/tenants/alpha/send-back", data={"to_stage": "demo", "reason": "new logo"}, follow_redirects=True)
    assert "sent back to demo" in response.get_data(as_text=True)
    change = db.session.query(StageChange).one()
    assert (change.actor, change.reason, change.to_stage) == ("Olga Operator", "new logo", "demo")
    refused = console.post("/console/tenants/alpha/send-back", data={"to_stage": "live", "reason": "x"}, follow_redirects=True)
    assert "Choose an earlier stage" in refused.get_data(as_text=True)


def test_console_forms_are_protected_against_cross_site_requests(make_app, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        from core.tenancy.sync import sync_tenants

        sync_tenants()
        create_operator("ops", "Olga", PASSWORD)
        client = HostClient(app, "vendor.localhost")
        response = client.post("/console/login", data={"login": "ops", "password": PASSWORD, "code": "123456"})
        assert response.status_code == 400  # no CSRF token


def test_an_idle_session_ends(console, operator):
    signed_in(console, operator)
    with console.client.session_transaction(base_url="http://vendor.localhost") as session:
        session["vendor_seen"] -= 31 * 60
    assert console.get("/console/").status_code == 302


def test_the_create_operator_command(lendkit):
    result = lendkit("vendor", "create-operator", "--login", "kai", "--name", "Kai", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/" in result.output
    assert VendorOperator.by_login("kai").name == "Kai"
    weak = lendkit("vendor", "create-operator", "--login", "lee", "--name", "Lee", "--password", "weakweak")
    assert weak.exit_code == 1 and "password" in weak.output


def test_create_operator_without_a_password_and_without_a_terminal_says_so(lendkit):
    result = lendkit("vendor", "create-operator", "--login", "kai", "--name", "Kai")  # stdin is no terminal
    assert result.exit_code == 2, result.output
    assert "--password is required when no terminal is there to ask for it" in result.output
    assert "Aborted" not in result.output and "Password:" not in result.output
    assert VendorOperator.by_login("kai") is None


def test_create_operator_asks_for_the_password_at_a_terminal(app, monkeypatch):
    from core.cli import cli
    from core.vendor import cli as vendor_cli

    monkeypatch.setattr(vendor_cli, "_interactive", lambda: True)
    result = app.test_cli_runner().invoke(cli, ["vendor", "create-operator", "--login", "kai", "--name", "Kai"],
                                          input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and PASSWORD not in result.output
    assert VendorOperator.by_login("kai").name == "Kai"


def test_the_console_seeds_the_demo_and_runs_the_acceptance_suite(console, operator, tenant_b):
    assert console.post("/console/tenants/beta/accept").status_code == 302  # operators only
    signed_in(console, operator)
    seeded = console.post("/console/tenants/beta/seed", follow_redirects=True).get_data(as_text=True)
    assert "Demo data seeded:" in seeded and "1 listings" in seeded
    again = console.post("/console/tenants/beta/seed", follow_redirects=True).get_data(as_text=True)
    assert "Demo data was already there: 1 listings" in again
    tenant_b.stage = "configured"
    db.session.commit()
    before = console.get("/console/tenants/beta").get_data(as_text=True)
    assert "Gate to tested" in before and "lendkit tenant accept beta" in before
    page = console.post("/console/tenants/beta/accept", follow_redirects=True).get_data(as_text=True)
    assert "The acceptance suite passed" in page
    assert "personal: equal_installment" in page and "by Olga Operator" in page
    from core.delivery.acceptance import latest_run

    assert latest_run(tenant_b).actor == "Olga Operator"
    assert console.post("/console/tenants/nobody/accept").status_code == 404


def test_a_suite_run_from_a_chinese_console_page_is_recorded_in_chinese(console, operator, tenant_b):
    from core.delivery.acceptance import latest_run

    zh = {"Accept-Language": "zh-CN"}
    signed_in(console, operator)
    tenant_b.stage = "configured"
    db.session.commit()
    assert console.post("/console/tenants/beta/accept", headers=zh).status_code == 302  # no broker: run in-request
    run = latest_run(tenant_b)
    assert run.passed, run.scenarios
    loan, books = run.scenarios
    assert loan["name"] == "personal：equal_installment，6 个月，100000（最小货币单位），首期逾期还款"
    assert "3 位出借人均收回全部本金，分毫不差" in loan["steps"] and books["name"] == "账目平衡，且每天与银行对账一致"
    page = console.get("/console/tenants/beta", headers=zh).get_data(as_text=True)
    assert loan["name"] in page and "`lendkit daily` 收取了 6 笔还款；已结清" in page
    assert "minor units" not in page and "investors received" not in page
    english = console.get("/console/tenants/beta").get_data(as_text=True)  # stored as its starter wrote it
    assert loan["name"] in english


def test_a_suite_running_on_a_worker_shows_as_running_and_is_not_started_twice(console, operator, tenant_b,
                                                                              monkeypatch):
    """With a broker the console only records the start and queues the suite: no request waits for it."""
    from core import jobs
    from core.delivery import acceptance
    from core.delivery.stages import run_gate

    queued = []
    monkeypatch.setattr(jobs, "dispatch", lambda name, *args, **kw: queued.append((name, args)))
    signed_in(console, operator)
    tenant_b.stage = "configured"
    db.session.commit()
    page = console.post("/console/tenants/beta/accept", follow_redirects=True).get_data(as_text=True)
    assert "running on a worker" in page and 'data-run="running"' in page
    run = acceptance.latest_run(tenant_b)
    assert queued == [("delivery.accept", (run.id, "en"))] and run.finished_at is None and run.passed is None
    gate = {check.name: check for check in run_gate(tenant_b, "tested")}
    assert not gate["acceptance suite passes"].passed and "is running since" in gate["acceptance suite passes"].detail
    again = console.post("/console/tenants/beta/accept", follow_redirects=True).get_data(as_text=True)
    assert "running already" in again and len(queued) == 1
    # the worker's task finishes it; the page then shows the outcome
    from core.delivery.tasks import accept

    monkeypatch.undo()  # the rehearsal's own tasks run in-process again

    passed = accept.run(tenant_b.id, run.id)
    assert passed is True, acceptance.latest_run(tenant_b).scenarios
    done = console.get("/console/tenants/beta").get_data(as_text=True)
    assert 'data-run="running"' not in done and "personal: equal_installment" in done


def test_a_suite_that_cannot_run_is_recorded_as_failed_not_left_running(app, tenant_b, monkeypatch):
    from core.delivery import acceptance

    def broken(tenant, suite):
        raise RuntimeError("no disk left")

    monkeypatch.setattr(acceptance, "rehearse", broken)
    run = acceptance.run_acceptance(tenant_b, actor="Olga Operator")
    assert run.finished_at is not None and run.passed is False
    assert run.scenarios[0]["detail"] == "the acceptance suite could not run: RuntimeError: no disk left"
    run = acceptance.run_acceptance(tenant_b, actor="Olga Operator", locale="zh_CN")
    assert run.scenarios[0]["name"] == "验收测试可运行"
    assert run.scenarios[0]["detail"] == "验收测试无法运行：RuntimeError: no disk left"
