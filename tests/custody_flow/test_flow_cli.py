"""The operator's commands: reconcile, ledger verify and export (checked by bean-check), custody resolve."""
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.custody import service
from core.custody.instructions import current_tenant, provider_for
from core.custody.provider import Instruction
from core.custody.service import Leg
from core.ledger import journal

from flow_fixtures import flow  # noqa: F401  (fixture)


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def workload(flow):
    """A day of a small platform: deposits, bids, a disbursement with fees, a repayment split, withdrawals."""
    for user in (1, 2, 3, 4):
        flow.open_user(user)
    for user, amount in ((1, 500_000), (2, 300_000), (3, 250_001)):
        assert service.deposit(user, amount, key=f"dep-{user}").state == "confirmed"
    for user, amount in ((1, 400_000), (2, 200_000), (3, 199_999)):
        assert service.freeze(user, amount, key=f"bid-{user}").state == "confirmed"
    assert service.unfreeze(3, 99_999, key="trim-3").state == "confirmed"
    legs = [Leg(1, 4, 400_000, True), Leg(2, 4, 200_000, True), Leg(3, 4, 100_000, True),
            Leg(4, "fee_income", 14_000), Leg(4, "risk_reserve", 7_000)]
    assert service.batch_transfer(legs, key="disburse").state == "confirmed"
    assert service.deposit("marketing", 10_000, key="budget").state == "confirmed"
    assert service.transfer("marketing", 1, 888, key="bonus-1").state == "confirmed"
    repay = [Leg(4, 1, 40_001), Leg(4, 2, 20_000), Leg(4, 3, 10_000), Leg(4, "fee_income", 1)]
    assert service.batch_transfer(repay, key="repay-1").state == "confirmed"
    assert service.withdraw(4, 500_000, key="out-4").state == "confirmed"
    assert service.withdraw(1, 1, key="out-1").state == "confirmed"


def test_reconcile_exits_0_when_clean_and_1_with_differences(flow, lendkit):
    workload(flow)
    clean = lendkit("reconcile", "--tenant", "alpha", "--date", today())
    assert clean.exit_code == 0, clean.output
    assert "0 difference(s)" in clean.output and "alpha" in clean.output
    provider_for(current_tenant()).submit(Instruction("BANK-ONLY-1", "deposit", "U2", 123, "CNY"))
    dirty = lendkit("reconcile", "--tenant", "alpha", "--date", today())
    assert dirty.exit_code == 1
    assert "missing_in_ledger" in dirty.output and "BANK-ONLY-1" in dirty.output and "1.23 CNY" in dirty.output
    assert "balance_differs" in dirty.output and "platform:bank_clearing" in dirty.output


@pytest.mark.parametrize("args, message", [
    (["--tenant", "alpha", "--date", "2025-02-30"], "--date: '2025-02-30' is not a date like 2025-03-01"),
    (["--tenant", "alpha", "--date", "yesterday"], "--date: 'yesterday' is not a date"),
    (["--tenant", "nobody", "--date", "2025-03-01"], "no tenant 'nobody'"),
])
def test_reconcile_bad_input_is_one_line_and_non_zero(lendkit, args, message):
    result = lendkit("reconcile", *args)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and message in result.output


def test_the_console_script_says_a_bad_date_in_one_line(tmp_path):
    env = {"LENDKIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "core.cli", "reconcile", "--tenant", "alpha", "--date", "3/1/25"],
                            capture_output=True, text=True, env=env, timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["lendkit: --date: '3/1/25' is not a date like 2025-03-01"]


def test_the_export_of_a_realistic_day_passes_bean_check(flow, lendkit, tmp_path):
    bean_check = shutil.which("bean-check") or str(Path(sys.executable).parent / "bean-check")
    if not Path(bean_check).exists():
        pytest.skip("beancount is not installed (pip install -e '.[dev]')")
    workload(flow)
    journal.reverse(journal.entry_by_key(
        f"custody:{service.transfer('marketing', 2, 5, key='bonus-typo').request_no}"), "fix-bonus-typo")
    out = tmp_path / "alpha.beancount"
    result = lendkit("ledger", "export", "--tenant", "alpha", "--format", "beancount", "--output", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "open Liabilities:User:1:Available CNY" in text and "open Assets:Platform:BankClearing CNY" in text
    assert "  Liabilities:User:3:Available  -2500.01 CNY" in text  # exact major units
    assert "  Income:Platform:FeeIncome  -0.01 CNY" in text
    check = subprocess.run([bean_check, str(out)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    broken = out.read_text(encoding="utf-8").replace("-2500.01 CNY", "-2500.02 CNY", 1)
    out.write_text(broken, encoding="utf-8")
    assert subprocess.run([bean_check, str(out)], capture_output=True, timeout=120).returncode != 0


def test_ledger_verify_and_custody_resolve(flow, lendkit):
    workload(flow)
    verified = lendkit("ledger", "verify", "--tenant", "alpha")
    assert verified.exit_code == 0 and "the books hold" in verified.output
    resolved = lendkit("custody", "resolve", "--tenant", "alpha")
    assert resolved.exit_code == 0 and "still open 0" in resolved.output


def test_ledger_export_to_stdout(flow, lendkit):
    flow.open_user(1)
    service.deposit(1, 1, key="d")
    result = lendkit("ledger", "export", "--tenant", "alpha")
    assert result.exit_code == 0
    assert "Liabilities:User:1:Available  -0.01 CNY" in result.output


def test_the_commands_are_registered(lendkit):
    listing = lendkit("--help").output
    for name in ("ledger", "reconcile", "custody", "sandbox-bank"):
        assert name in listing


def test_reconcile_refuses_a_day_after_today_in_one_line_and_records_nothing(lendkit, tenant_a):
    from datetime import timedelta

    from sqlalchemy import func, select

    from core.custody.models import ReconciliationRun
    from core.extensions import db
    from core.lending.lifecycle import tenant_today
    from core.tenancy import tenant_context

    with tenant_context(tenant_a):
        tomorrow = (tenant_today(tenant_a) + timedelta(days=1)).isoformat()
    result = lendkit("reconcile", "--tenant", "alpha", "--date", tomorrow)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and f"--date: {tomorrow} is after today" in result.output
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count(ReconciliationRun.id))) == 0
