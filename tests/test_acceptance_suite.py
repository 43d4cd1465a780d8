"""The tested gate: an acceptance suite generated from the tenant's own products and rules.

Each product and repayment method gets a loan that lives its whole life in a
throwaway rehearsal (sandbox bank, SMS outbox and bureau); the tenant's own
books are never touched. The run is recorded against the configuration's digest.
"""
import copy

from sqlalchemy import func, select

from core.accounts.models import User
from core.delivery import gates  # noqa: F401  (registers the gates)
from core.delivery.acceptance import latest_run, run_acceptance, scenarios
from core.delivery.models import AcceptanceRun
from core.delivery.rehearsal import bids_for
from core.delivery.stages import configuration_digest, run_gate
from core.extensions import db
from core.ledger.models import JournalEntry
from core.tenancy import tenant_context


def _products(tenant, change):
    """Change the tenant's products in its stored configuration (as a sync of a changed tenant.yaml would)."""
    config = copy.deepcopy(tenant.config)
    change(config["products"])
    tenant.config = config
    db.session.commit()


def test_the_suite_has_a_loan_per_product_and_method_and_one_late_per_product(tenant_a):
    suite = scenarios(tenant_a.config)
    products = tenant_a.config["products"]
    assert len(suite) == sum(len(p["repayment_methods"]) for p in products)
    assert {(s.product, s.method) for s in suite} == {(p["code"], m) for p in products for m in p["repayment_methods"]}
    assert [s.product for s in suite if s.late] == [p["code"] for p in products]
    for scenario, product in ((s, next(p for p in products if p["code"] == s.product)) for s in suite):
        assert scenario.months == min(product["terms_months"]) and scenario.amount >= product["min_amount"]
        assert scenario.borrower_type == product["borrower_type"]


def test_bids_follow_the_product_rules():
    assert bids_for(100_000, min_bid=10_000, step=100, max_bid=None) == [33_300, 33_300, 33_400]
    assert bids_for(1_000_000, min_bid=2_500, step=2_500, max_bid=250_000, investors=3) == [250_000] * 4
    assert bids_for(10_000, min_bid=10_000, step=100, max_bid=None) == [10_000]
    for bids, amount, step in ((bids_for(123_457, min_bid=5_000, step=1_000, max_bid=60_000), 123_457, 1_000),):
        assert sum(bids[:-1]) < amount <= sum(bids) and all(b % step == 0 and b <= 60_000 for b in bids)


def test_the_cli_runs_the_suite_and_the_tested_gate_reads_the_run(tenant_b, lendkit):
    with tenant_context(tenant_b):
        before = (db.session.scalar(select(func.count(JournalEntry.id))), db.session.scalar(select(func.count(User.id))))
    result = lendkit("tenant", "accept", "beta")
    assert result.exit_code == 0, result.output
    assert "[pass] personal: equal_installment, 6 months" in result.output
    assert "first installment overdue after the" in result.output
    assert "each of 3 investors received their principal back to the cent" in result.output
    assert "[pass] the books balance and reconcile with the bank every day" in result.output
    run = latest_run(tenant_b)
    assert run.passed and run.config_digest == configuration_digest(tenant_b) and run.actor
    loan, books = run.scenarios  # without --locale, in English, as plain strings
    assert loan["name"] == "personal: equal_installment, 6 months, 100000 minor units, first installment paid late"
    assert loan["steps"][-2:] == ["6 repayments collected by `lendkit daily`; paid off",
                                  "each of 3 investors received their principal back to the cent"]
    assert loan["detail"] == loan["steps"][-1] and loan["steps"][0].startswith("applied, approved by reviewer and risk")
    assert books["name"] == "the books balance and reconcile with the bank every day"
    assert books["detail"].endswith(" days reconciled, no difference")
    with tenant_context(tenant_b):  # the rehearsal never touched the tenant's own books or users
        after = (db.session.scalar(select(func.count(JournalEntry.id))), db.session.scalar(select(func.count(User.id))))
    assert after == before
    checks = run_gate(tenant_b, "tested")
    assert all(c.passed for c in checks) and checks[-1].name == "acceptance suite passes"
    assert db.session.scalar(select(func.count(AcceptanceRun.id))) == 1  # the recorded run was read, not redone


def test_the_report_counts_in_the_singular_where_there_is_one(tenant_b, lendkit):
    def one_month_bullet(products):
        products[0]["terms_months"] = [1]
        products[0]["repayment_methods"] = ["bullet"]

    _products(tenant_b, one_month_bullet)
    result = lendkit("tenant", "accept", "beta")
    assert result.exit_code == 0, result.output
    assert "[pass] personal: bullet, 1 month, " in result.output
    assert "1 repayment collected by `lendkit daily`; paid off" in result.output
    assert "beta: the 1 acceptance loan lived its whole life and the books hold" in result.output
    assert "1 months" not in result.output and "1 repayments" not in result.output
    assert "1 loans" not in result.output and "1 days " not in result.output


def test_the_suite_is_written_in_the_language_of_whoever_runs_it(tenant_b, lendkit):
    """`--locale zh_CN`: scenarios, steps and report in Chinese, stored as such (plain strings, same shape)."""
    result = lendkit("tenant", "accept", "beta", "--locale", "zh_CN")
    assert result.exit_code == 0, result.output
    name = "personal：equal_installment，6 个月，100000（最小货币单位），首期逾期还款"
    assert f"[pass] {name}" in result.output
    assert "已申请，经审核员和风控专员审核通过，按年利率" in result.output
    assert "3 位出借人均收回全部本金，分毫不差" in result.output
    assert "[pass] 账目平衡，且每天与银行对账一致" in result.output
    assert "beta：全部 1 笔验收借款均走完了全部生命周期，账目平衡" in result.output
    assert "investors" not in result.output and "minor units" not in result.output
    loan, books = latest_run(tenant_b).scenarios
    assert set(loan) == {"name", "passed", "detail", "steps"} and all(type(line) is str for line in loan["steps"])
    assert loan["name"] == name and loan["detail"] == "3 位出借人均收回全部本金，分毫不差"
    assert "`lendkit daily` 收取了 6 笔还款；已结清" in loan["steps"]
    assert books["detail"].startswith("已对账 ") and books["detail"].endswith(" 天，无差异")
    checks = run_gate(tenant_b, "tested")  # the gate shows the run as it was stored
    assert [str(c.name) for c in checks[:2]] == [f"acceptance: {name}", "acceptance: 账目平衡，且每天与银行对账一致"]
    assert lendkit("tenant", "accept", "beta", "--locale", "fr").exit_code == 2  # only the shipped locales


def test_the_gate_fails_without_a_run_of_the_current_configuration(tenant_b, lendkit):
    checks = run_gate(tenant_b, "tested")
    assert not checks[-1].passed and "lendkit tenant accept beta" in checks[-1].detail
    assert lendkit("tenant", "accept", "beta").exit_code == 0
    assert run_gate(tenant_b, "tested")[-1].passed
    _products(tenant_b, lambda products: products[0].update(grace_days=products[0]["grace_days"] + 1))
    checks = run_gate(tenant_b, "tested")
    assert not checks[-1].passed and "the configuration changed since the run" in checks[-1].detail


def test_a_product_that_cannot_be_lent_fails_the_gate_with_the_reason_and_passes_when_fixed(tenant_b, tenant_a, lendkit):
    def unlendable(products):
        products[0]["min_amount"] = products[0]["max_amount"] = 5_000_000_000  # above every grade's limit

    _products(tenant_b, unlendable)
    result = lendkit("tenant", "accept", "beta")
    assert result.exit_code == 1 and "[FAIL] personal: equal_installment" in result.output
    assert "the application was refused" in result.output
    checks = {c.name: c for c in run_gate(tenant_b, "tested")}
    failed = [c for c in checks.values() if not c.passed]
    assert checks["acceptance suite passes"].passed is False
    assert any("the application was refused" in c.detail for c in failed), failed
    assert latest_run(tenant_a) is None  # runs are per tenant

    def fixed(products):
        products[0]["min_amount"], products[0]["max_amount"] = 100_000, 5_000_000

    _products(tenant_b, fixed)
    assert not run_gate(tenant_b, "tested")[-1].passed  # a new configuration needs a new run
    run_acceptance(tenant_b, actor="test")
    checks = run_gate(tenant_b, "tested")
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert db.session.scalar(select(func.count(AcceptanceRun.id)).where(AcceptanceRun.tenant_id == tenant_b.id)) == 2


def test_a_tenant_without_products_cannot_pass(tenant_b):
    _products(tenant_b, lambda products: products.clear())
    run_acceptance(tenant_b, actor="test")
    checks = run_gate(tenant_b, "tested")
    assert not checks[-1].passed and "no loan products" in checks[0].detail
    run = run_acceptance(tenant_b, actor="test", locale="zh_CN")
    assert run.scenarios == [{"name": "借款产品", "passed": False, "detail": "该租户没有借款产品，无可验收", "steps": []}]


def test_a_change_made_in_the_admin_console_calls_for_a_new_run(tenant_b, lendkit):
    from core.configuration.service import save_section, section_value

    assert lendkit("tenant", "accept", "beta").exit_code == 0
    assert run_gate(tenant_b, "tested")[-1].passed
    products = section_value(tenant_b.config, "products")
    products["products"][0]["grace_days"] = products["products"][0]["grace_days"] + 2
    with tenant_context(tenant_b):
        assert save_section(tenant_b, "products", products, actor="console admin") is not None
    checks = run_gate(db.session.get(type(tenant_b), tenant_b.id), "tested")
    assert not checks[-1].passed and "the configuration changed since the run" in checks[-1].detail


def test_the_rehearsal_leaves_the_deployments_task_routing_alone(tenant_b, app):
    from core import jobs

    jobs.celery.conf.update(broker_url="redis://127.0.0.1:6399/0", task_always_eager=False)
    try:
        run_acceptance(tenant_b, actor="test")
        assert jobs.celery.conf.task_always_eager is False
        assert jobs.celery.conf.broker_url == "redis://127.0.0.1:6399/0"
    finally:
        jobs.init_app(app)


def test_bids_round_to_the_step_inside_the_minimum_and_the_maximum():
    assert bids_for(100_000, min_bid=30_000, step=7_000, max_bid=None) == [49_000, 56_000]
    assert bids_for(100_050, min_bid=100, step=50, max_bid=33_350) == [33_350, 33_350, 33_350]
    import pytest

    with pytest.raises(ValueError):
        bids_for(100_000, min_bid=30_000, step=7_000, max_bid=30_000)  # no multiple of 7,000 in [30,000, 30,000]


def test_a_worker_runs_the_suite_with_its_daily_steps_in_process(app, tenant_b, monkeypatch):
    """On a Celery worker, where waiting for a task's result inside a task is forbidden, the rehearsal's own
    steps (run in-process) still hand back their results."""
    import celery.result

    from core.delivery import acceptance
    from core.delivery.tasks import accept

    monkeypatch.setattr(celery.result, "task_join_will_block", lambda: True)  # what a worker process sets
    run = acceptance._record_start(tenant_b, actor="worker")
    assert accept.run(tenant_b.id, run.id, "zh_CN") is True, acceptance.latest_run(tenant_b).scenarios
    loan, books = acceptance.latest_run(tenant_b).scenarios  # in the starter's language, not the worker's
    assert loan["name"].startswith("personal：equal_installment，6 个月") and books["name"] == "账目平衡，且每天与银行对账一致"
    assert "3 位出借人均收回全部本金，分毫不差" in loan["steps"]
