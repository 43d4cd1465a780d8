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
from core.delivery.stages import run_gate
from core.extensions import db
from core.ledger.models import JournalEntry
from core.tenancy import tenant_context


def _products(tenant, change):
    """Change the tenant's products in its stored configuration, as a new configuration (new digest)."""
    config = copy.deepcopy(tenant.config)
    change(config["products"])
    tenant.config = config
    tenant.config_digest = f"{int(tenant.config_digest[:8], 16) + 1:08x}" + tenant.config_digest[8:]
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
    assert run.passed and run.config_digest == tenant_b.config_digest and run.actor
    with tenant_context(tenant_b):  # the rehearsal never touched the tenant's own books or users
        after = (db.session.scalar(select(func.count(JournalEntry.id))), db.session.scalar(select(func.count(User.id))))
    assert after == before
    checks = run_gate(tenant_b, "tested")
    assert all(c.passed for c in checks) and checks[-1].name == "acceptance suite passes"
    assert db.session.scalar(select(func.count(AcceptanceRun.id))) == 1  # the recorded run was read, not redone


def test_the_gate_fails_without_a_run_of_the_current_configuration(tenant_b, lendkit):
    checks = run_gate(tenant_b, "tested")
    assert not checks[-1].passed and "lendkit tenant accept beta" in checks[-1].detail
    assert lendkit("tenant", "accept", "beta").exit_code == 0
    assert run_gate(tenant_b, "tested")[-1].passed
    _products(tenant_b, lambda products: products[0].update(grace_days=5))
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
