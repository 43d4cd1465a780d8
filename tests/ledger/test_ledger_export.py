"""The beancount export: names, exact amounts, pending entries left out, bean-check on the result."""
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.ledger import journal
from core.ledger.export import beancount_name, export_beancount

from ledger_fixtures import books  # noqa: F401  (fixture)

CLEARING = "platform:bank_clearing"


@pytest.mark.parametrize("kind, code, name", [
    ("liability", "user:42:available", "Liabilities:User:42:Available"),
    ("asset", "platform:bank_clearing", "Assets:Platform:BankClearing"),
    ("income", "platform:fee_income", "Income:Platform:FeeIncome"),
    ("equity", "platform:marketing", "Equity:Platform:Marketing"),
    ("expense", "platform:bad debt/2026", "Expenses:Platform:BadDebt2026"),
])
def test_account_names_are_valid_beancount_names(kind, code, name):
    assert beancount_name(kind, code) == name


def test_the_export_has_every_posted_line_in_exact_major_units(books):
    books.fund(1, 1)
    books.fund(2, 123_456_789_012)
    journal.record([(books.avail(2), 50), (CLEARING, -50)], key="pending", kind="withdraw", pending=True)
    out = io.StringIO()
    stats = export_beancount(out)
    text = out.getvalue()
    assert stats["transactions"] == 2 and stats["postings"] == 4
    assert "  Liabilities:User:1:Available  -0.01 CNY" in text
    assert "  Assets:Platform:BankClearing  1234567890.12 CNY" in text
    assert "withdraw" not in text  # pending entries are not in the books yet
    assert 'key: "pending"' not in text


def test_bean_check_accepts_the_export(books, tmp_path):
    bean_check = shutil.which("bean-check") or str(Path(sys.executable).parent / "bean-check")
    if not Path(bean_check).exists():
        pytest.skip("beancount is not installed (pip install -e '.[dev]')")
    books.fund(1, 10_000)
    books.fund(2, 333)
    entry = journal.record([(books.avail(1), 2_500), (books.frozen(1), -2_500)], key="bid", kind="freeze")
    journal.record([(books.frozen(1), 2_500), (books.avail(3), -2_450), ("platform:fee_income", -50)],
                   key="loan", kind="transfer", memo='disbursement "loan 1"')
    journal.reverse(books.fund(3, 7, key="typo"), "typo-fix", memo="wrong amount")
    assert entry.state == "posted"
    path = tmp_path / "books.beancount"
    with open(path, "w", encoding="utf-8") as fh:
        export_beancount(fh)
    check = subprocess.run([bean_check, str(path)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
