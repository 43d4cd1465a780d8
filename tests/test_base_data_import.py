"""Base-data import (`lendkit tenant import`): a client's users, loans and repayments from its previous system.

Tenant alpha banks with the in-process sandbox bank; the sample files of
docs/samples/base-data/ stand in for the client's export, and the bank side
is preloaded from the sample bank file (its own setup path, not the ledger).
"""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.tenancy import tenant_context

SAMPLES = Path(__file__).parent.parent / "docs" / "samples" / "base-data"
AS_OF = "2026-11-20"
FILES = ("users", "loans", "repayments")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def written(tenant) -> dict:
    """How many rows of everything an import writes the tenant holds."""
    from core.accounts.models import BankCard, KycApplication, User
    from core.delivery.models import ImportBatch, ImportedRecord
    from core.ledger.models import JournalEntry, LedgerAccount
    from core.lending.models import Claim, Installment, Loan, Repayment

    with tenant_context(tenant):
        return {m.__name__: count(m) for m in (User, KycApplication, BankCard, LedgerAccount, JournalEntry, Loan,
                                                Installment, Claim, Repayment, ImportBatch, ImportedRecord)}


def bank(tenant):
    from core.custody.instructions import provider_for

    return provider_for(tenant)


@pytest.fixture
def files(tmp_path):
    """Copies of the sample files, to edit."""
    folder = tmp_path / "files"
    folder.mkdir()
    for name in FILES:
        shutil.copy(SAMPLES / f"{name}.csv", folder / f"{name}.csv")
    return folder


@pytest.fixture
def preloaded(lendkit, tenant_a):
    """Alpha's sandbox bank holds the sample users' sub-accounts with their balances."""
    result = lendkit("sandbox-bank-preload", "--tenant", "alpha", str(SAMPLES / "sandbox-bank-accounts.csv"))
    assert result.exit_code == 0, result.output
    assert "holds 5 preloaded account(s)" in result.output
    return tenant_a


def run(lendkit, folder, *extra, slug="alpha", kinds=FILES):
    args = ["tenant", "import", slug, "--as-of", AS_OF]
    for kind in kinds:
        args += [f"--{kind}", str(Path(folder) / f"{kind}.csv")]
    return lendkit(*args, *extra)


def replace_line(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def imported_user(external_id: str):
    from core.accounts.models import User
    from core.delivery.models import ImportedRecord

    record = db.session.scalar(select(ImportedRecord).where(ImportedRecord.kind == "user",
                                                            ImportedRecord.external_id == external_id))
    return db.session.get(User, record.target_id)


def imported_loan(external_id: str):
    from core.delivery.models import ImportedRecord
    from core.lending.models import Loan

    record = db.session.scalar(select(ImportedRecord).where(ImportedRecord.kind == "loan",
                                                            ImportedRecord.external_id == external_id))
    return db.session.get(Loan, record.target_id)


# --------------------------------------------------------------------- a clean import


def test_sample_files_import_and_the_ledger_reconciles_with_the_bank(lendkit, preloaded, files, kit):
    from core.accounts import crypto
    from core.accounts.kyc import latest_application
    from core.accounts.models import BankCard, User
    from core.custody.reconcile import reconcile
    from core.ledger.balances import verify
    from core.ledger.chart import account
    from core.lending.models import Claim, Installment, Repayment

    result = run(lendkit, files)
    assert result.exit_code == 0, result.output
    assert "imported (batch" in result.output
    assert "users: 5 new" in result.output and "loans: 3 new (24 installments, 5 claims)" in result.output
    assert "repayments: 13 new" in result.output
    assert "reconciled: the ledger agrees with the bank for all 5 imported sub-accounts" in result.output

    provider = bank(preloaded)
    with tenant_context(preloaded):
        # users: verified, card active, no password yet, personal data sealed and blind-indexed
        zhang = imported_user("U-1001")
        assert zhang.status == "active" and zhang.role_names == {"borrower"} and zhang.password_hash == ""
        assert b"13800000101" not in zhang.mobile_sealed and zhang.mobile == "13800000101"
        assert User.by_mobile(preloaded, "13800000101").id == zhang.id
        kyc = latest_application(zhang)
        assert (kyc.status, kyc.bureau_result, kyc.name, kyc.id_number) == ("approved", "imported", "张伟", "310101198506122314")
        assert kyc.id_number_index == crypto.blind_index(preloaded, "id_number", "310101198506122314")
        company = latest_application(imported_user("U-2001"))
        assert (company.kind, company.company_name, company.uscc, company.name) == ("enterprise", "上海鑫禾商贸有限公司", "91310000MA1FL5KX3X", "陈强")
        card = db.session.scalar(select(BankCard).where(BankCard.user_id == zhang.id))
        assert card.status == "active" and card.number == "6217000123456780018"
        # opening balances mirror the bank, sub-account by sub-account
        for external_id, sub_account in (("U-1001", "CB0001001"), ("U-1002", "CB0001002"), ("U-2001", "CB0002001")):
            user = imported_user(external_id)
            available = account(f"user:{user.id}:available")
            assert available.custody_account == sub_account
            assert available.posted_balance == provider.balance(sub_account).available
        assert account("platform:bank_clearing").posted_balance == 120000 + 2500000 + 800000 + 15000 + 50000
        from core.ledger.journal import entry_by_key
        from core.ledger.models import JournalEntry

        opening = entry_by_key("import:opening:batch:1")
        assert (opening.kind, opening.state, opening.request_no) == ("opening_balance", "posted", None)
        assert count(JournalEntry) == 1  # past repayments moved no money here
        assert kit.outbox("alpha", "13800000102") == []  # nothing moved at the bank: nobody is texted
        assert verify() == []
        run_ = reconcile(date.today())
        assert run_.status == "clean", [(d.kind, d.account, d.ledger_amount, d.bank_amount) for d in run_.differences]

        # loans in their states, installments paid as the repayments say, claims cent-exact
        l501, l502, l503 = imported_loan("L-501"), imported_loan("L-502"), imported_loan("L-503")
        assert (l501.status, l502.status, l503.status) == ("repaying", "paid_off", "overdue")
        assert l501.number.startswith("LN") and l501.borrower_id == zhang.id and l501.disbursed_on == date(2026, 5, 15)
        statuses = db.session.execute(select(Installment.number, Installment.status).where(Installment.loan_id == l501.id)
                                      .order_by(Installment.number)).all()
        assert [s for _n, s in statuses] == ["paid"] * 6 + ["due"] * 6
        assert l501.principal_repaid == 94619 + 95565 + 96521 + 97486 + 98461 + 99446
        assert l501.principal_outstanding == 1200000 - l501.principal_repaid
        claims = db.session.scalars(select(Claim).where(Claim.loan_id == l501.id).order_by(Claim.id)).all()
        assert [c.share for c in claims] == [700000, 500000]
        assert sum(c.principal_outstanding for c in claims) == l501.principal_outstanding
        assert {c.status for c in db.session.scalars(select(Claim).where(Claim.loan_id == l502.id))} == {"closed"}
        late = db.session.scalars(select(Installment).where(Installment.loan_id == l503.id, Installment.status == "overdue")).all()
        assert [i.number for i in late] == [2, 3] and late[0].overdue_since == date(2026, 10, 5)
        assert db.session.scalar(select(func.count()).select_from(Repayment).where(Repayment.state == "done")) == 13


def test_an_imported_user_sets_a_password_by_sms_and_money_moves_on_the_imported_sub_account(lendkit, preloaded, files, client_a, kit):
    from core.custody import service

    assert run(lendkit, files).exit_code == 0
    mobile = "13800000102"
    refused = client_a.post("/api/v1/auth/tokens", json={"mobile": mobile, "password": kit.PASSWORD})
    assert refused.status_code == 401
    assert kit.send_code(client_a, mobile, "reset_password").status_code == 202
    reset = client_a.post("/api/v1/auth/password-reset", json={"mobile": mobile, "code": kit.code("alpha", mobile),
                                                                "password": kit.PASSWORD})
    assert reset.status_code < 300, reset.json
    assert kit.token(client_a, mobile)
    with tenant_context(preloaded):
        investor = imported_user("U-1002")
        done = service.withdraw(investor.id, 100000, key="withdraw-after-import")
        assert done.state == "confirmed", (done.state, done.reason)
    assert bank(preloaded).balance("CB0001002").available == 2500000 - 100000


def test_dry_run_checks_the_bank_and_writes_nothing(lendkit, preloaded, files):
    before = written(preloaded)
    result = run(lendkit, files, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written" in result.output and "users: 5 new" in result.output
    assert written(preloaded) == before
    replace_line(files / "users.csv", ",2500000,0,", ",2500001,0,")
    result = run(lendkit, files, "--dry-run")
    assert result.exit_code == 1
    assert "users.csv:3: available: the bank holds 25000.00 CNY, not 25000.01 CNY" in result.output
    assert written(preloaded) == before


def test_the_report_speaks_the_operators_language(lendkit, preloaded, files):
    result = run(lendkit, files, "--dry-run", "--locale", "zh_CN")
    assert result.exit_code == 0, result.output
    assert "试运行，未写入任何数据" in result.output and "用户：新增 5 个" in result.output
    assert "dry run" not in result.output and "users:" not in result.output


# --------------------------------------------------------------------- refusals


def test_files_with_bad_rows_are_refused_whole_with_every_problem_reported(lendkit, preloaded, files):
    users, loans, repayments = (files / f"{k}.csv" for k in FILES)
    replace_line(users, "310101198506122314", "310101198506122315")          # bad check digit
    replace_line(users, ",800000,0,", ",800100,0,")                           # the bank holds 800000
    replace_line(loans, "L-503,U-1004,consumer", "L-503,U-1004,car")          # unknown product
    replace_line(loans, "U-1002:3000000;U-1004:2000000", "U-1002:3000000;U-1004:1900000")  # claims short
    replace_line(repayments, "L-501,3,2026-08-15,96521,10098", "L-501,3,2026-08-15,96521,10099")  # not the schedule
    before = written(preloaded)
    result = run(lendkit, files)
    assert result.exit_code == 1
    out = result.output
    assert "users.csv:2: id_number: The identity number is not valid" in out
    assert "users.csv:4: available: the bank holds 8000.00 CNY, not 8001.00 CNY" in out
    assert "loans.csv:3: holders: the claims sum to 4900000, not the amount 5000000" in out
    assert "loans.csv:4: product: car is not one of this tenant's products" in out
    assert "repayments.csv:4: interest: the schedule says 10098 for installment 3, not 10099" in out
    assert "lendkit: alpha: 5 problem(s) in users.csv, loans.csv, repayments.csv; nothing was imported" in out or \
        "alpha: 5 problem(s) in users.csv, loans.csv, repayments.csv; nothing was imported" in out
    assert written(preloaded) == before
    assert bank(preloaded).balance("CB0001003").available == 800000


def test_missing_columns_and_unreadable_values_are_reported_per_line(lendkit, preloaded, files):
    (files / "loans.csv").write_text("external_id,borrower,amount\nL-1,U-1001,12x\n", encoding="utf-8")
    replace_line(files / "users.csv", "13800000104", "1380000010")
    result = run(lendkit, files, kinds=("users", "loans"))
    assert result.exit_code == 1
    for column in ("product", "annual_rate", "months", "method", "disbursed_on", "status", "holders"):
        assert f"loans.csv:1: {column}: missing column" in result.output
    assert written(preloaded)["ImportBatch"] == 0


def test_a_repayment_disagreeing_with_the_schedule_or_a_status_that_does_not_follow_is_refused(lendkit, preloaded, files):
    replace_line(files / "repayments.csv", "L-502,6,2026-10-10,5000000,41667,,0\n", "")
    result = run(lendkit, files)
    assert result.exit_code == 1
    assert "loans.csv:3: status: the schedule and the repayments given make this loan repaying, not paid_off" in result.output \
        or "loans.csv:3: status: the schedule and the repayments given make this loan overdue, not paid_off" in result.output
    assert written(preloaded)["Loan"] == 0


# --------------------------------------------------------------------- running again


def test_running_the_same_files_again_changes_nothing_and_says_so(lendkit, preloaded, files):
    assert run(lendkit, files).exit_code == 0
    after_first = written(preloaded)
    result = run(lendkit, files)
    assert result.exit_code == 0, result.output
    assert "nothing new; every row was imported before (5 users, 3 loans, 13 repayments); nothing changed" in result.output
    assert written(preloaded) == after_first


def test_repayments_imported_later_finish_an_earlier_loan(lendkit, preloaded, files):
    from core.lending.models import Claim

    last = "L-502,6,2026-10-10,5000000,41667,,0\n"
    repayments = files / "repayments.csv"
    full = repayments.read_text(encoding="utf-8")
    replace_line(repayments, last, "")
    replace_line(files / "loans.csv", "2026-04-10,paid_off", "2026-04-10,overdue")
    assert run(lendkit, files).exit_code == 0
    with tenant_context(preloaded):
        assert imported_loan("L-502").status == "overdue"
    later = files / "later"
    later.mkdir()
    (later / "repayments.csv").write_text(full, encoding="utf-8")
    result = run(lendkit, later, kinds=("repayments",))
    assert result.exit_code == 0, result.output
    assert "repayments: 1 new, 12 imported before; 1 earlier loan(s) change status" in result.output
    with tenant_context(preloaded):
        loan = imported_loan("L-502")
        assert loan.status == "paid_off" and loan.principal_outstanding == 0
        claims = db.session.scalars(select(Claim).where(Claim.loan_id == loan.id)).all()
        assert {c.status for c in claims} == {"closed"} and all(c.principal_outstanding == 0 for c in claims)
    assert written(preloaded)["ImportBatch"] == 2


def test_other_content_under_an_external_id_already_used_is_refused(lendkit, preloaded, files):
    assert run(lendkit, files).exit_code == 0
    before = written(preloaded)
    replace_line(files / "users.csv", "U-1003,person,13800000103,王芳,,320102197811031551,investor,CB0001003,6217000123456780034,中国工商银行",
                 "U-1003,person,13800000103,王芳,,320102197811031551,investor,CB0001003,6217000123456780034,中国银行")
    replace_line(files / "loans.csv", "Home renovation", "Kitchen")
    result = run(lendkit, files)
    assert result.exit_code == 1
    assert "users.csv:4: external_id: U-1003 was imported before (batch 1) with other content" in result.output
    assert "loans.csv:2: external_id: L-501 was imported before (batch 1) with other content" in result.output
    assert written(preloaded) == before


# --------------------------------------------------------------------- the gate


def test_the_data_loaded_gate_fails_before_an_import_and_passes_after_while_the_bank_agrees(lendkit, preloaded, files):
    from core.custody.provider import Instruction
    from core.delivery import gates  # noqa: F401
    from core.delivery.stages import run_gate

    checks = run_gate(preloaded, "data_loaded")
    assert [c.passed for c in checks] == [False] and "no import yet" in checks[0].detail
    assert run(lendkit, files).exit_code == 0
    checks = run_gate(preloaded, "data_loaded")
    assert all(c.passed for c in checks), checks
    assert "5 users, 3 loans, 13 repayments" in checks[0].detail
    assert "5 imported sub-accounts agree with the bank" in checks[1].detail
    # the bank moves money the ledger never heard of: the gate says which account differs
    outcome = bank(preloaded).submit(Instruction("BANK-SIDE-1", "deposit", "CB0001004", 500, "CNY"))
    assert outcome.status == "confirmed"
    checks = run_gate(preloaded, "data_loaded")
    assert checks[0].passed and not checks[1].passed
    assert "U-1004 (CB0001004): ledger 15000/0, bank 15500/0" in checks[1].detail


# --------------------------------------------------------------------- tenants and the bank


def test_an_import_is_invisible_to_another_tenant_which_cannot_name_its_users(lendkit, preloaded, files, tenant_b):
    from core.accounts.models import User
    from core.delivery import gates  # noqa: F401
    from core.delivery.models import ImportBatch
    from core.delivery.stages import run_gate

    assert run(lendkit, files).exit_code == 0
    with tenant_context(tenant_b):
        assert count(User) == 0 and count(ImportBatch) == 0
    assert not run_gate(tenant_b, "data_loaded")[0].passed
    result = run(lendkit, files, slug="beta", kinds=("loans",))
    assert result.exit_code == 1
    assert "loans.csv:2: borrower: no user U-1001 in users.csv or imported before" in result.output
    assert "loans.csv:2: holders: no user U-1002 in users.csv or imported before" in result.output
    assert written(tenant_b)["Loan"] == 0
    # the same people at beta are beta's own rows, checked against beta's bank (which does not hold them)
    result = run(lendkit, files, slug="beta", kinds=("users",))
    assert result.exit_code == 1
    assert "users.csv:2: custody_account: the bank has no sub-account CB0001001" in result.output


def test_an_unreachable_bank_fails_the_import_with_one_line_and_writes_nothing(lendkit, tenant_a, files):
    import socket

    from plugins.payment_custody import signing

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    platform_private, _public = signing.generate_keypair()
    _bank_private, bank_public = signing.generate_keypair()
    providers = dict(tenant_a.config["providers"])
    providers["custody"] = {"name": "http", "settings": {
        "base_url": f"http://127.0.0.1:{port}", "merchant_id": "lendkit-alpha",
        "private_key_pem": platform_private.decode(), "bank_public_key_pem": bank_public.decode(),
        "connect_timeout": 0.5, "read_timeout": 0.5, "retries": 0, "retry_backoff": 0.01,
    }}
    tenant_a.config = {**tenant_a.config, "providers": providers}
    db.session.commit()
    before = written(tenant_a)
    for extra in ((), ("--dry-run",)):
        result = run(lendkit, files, *extra)
        assert result.exit_code == 1
        assert "alpha: the custody bank (http) cannot be reached" in result.output
        assert "nothing was imported" in result.output
    assert written(tenant_a) == before


# --------------------------------------------------------------------- pure row checks


def test_row_checks_are_pure_and_name_each_column():
    from core.delivery.importer import clean_loan, clean_repayment, clean_user, parse_holders

    today = date(2026, 11, 20)
    row, problems = clean_user({"external_id": "U 1", "kind": "robot", "mobile": "123", "name": "张伟", "id_number": "1",
                                "roles": "lender", "custody_account": "CB1", "bank_card": "4111111111111112",
                                "available": "-1", "frozen": "0"}, today=today)
    assert row is None
    assert {c for c, _m in problems} == {"external_id", "kind", "mobile", "roles", "bank_card", "available"}
    row, problems = clean_loan({"external_id": "L-1", "borrower": "U-1", "product": "consumer", "amount": "1000",
                                "annual_rate": "0.12", "months": "6", "method": "equal_installment",
                                "disbursed_on": "2026-05-01", "status": "repaying", "holders": "A:600;B:400"}, today=today)
    assert problems == [] and row.holders == (("A", 600), ("B", 400))
    assert parse_holders("A:600;B")[1] and clean_loan({**row.content(), "holders": "A:600", "annual_rate": "1.2",
                                                       "months": "6", "amount": "1000",
                                                       "disbursed_on": "2027-01-01"}, today=today)[0] is None
    row, problems = clean_repayment({"loan": "L-1", "installment": "0", "paid_on": "2026-13-01", "principal": "1",
                                     "interest": "1.5"}, today=today)
    assert row is None and {c for c, _m in problems} == {"installment", "paid_on", "interest"}


def test_numbers_already_used_by_an_account_here_are_refused(lendkit, preloaded, files, client_a, kit):
    kit.register(client_a, "13800000101")
    result = run(lendkit, files, kinds=("users",))
    assert result.exit_code == 1
    assert "users.csv:2: mobile: another account here uses this mobile number" in result.output
    assert written(preloaded)["ImportBatch"] == 0


def test_a_sub_account_of_someone_else_is_refused_even_when_the_balances_agree(lendkit, preloaded, files):
    users = files / "users.csv"
    # U-1001 and U-1002 name each other's sub-accounts, each with that account's balance
    replace_line(users, "CB0001001,6217000123456780018,中国建设银行,120000,", "CB0001002,6217000123456780018,中国建设银行,2500000,")
    replace_line(users, "CB0001002,6217000123456780026,招商银行,2500000,", "CB0001001,6217000123456780026,招商银行,120000,")
    before = written(preloaded)
    result = run(lendkit, files, kinds=("users",))
    assert result.exit_code == 1, result.output
    assert "users.csv:2: custody_account: the bank's sub-account CB0001002 belongs to identity …4824" in result.output
    assert "users.csv:3: custody_account: the bank's sub-account CB0001001 belongs to identity …2314" in result.output
    assert written(preloaded) == before


def test_a_client_without_base_data_says_so_and_the_gate_accepts_it(lendkit, preloaded, files):
    from core.delivery import gates  # noqa: F401
    from core.delivery.stages import run_gate

    users = files / "users.csv"
    users.write_text(users.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")  # the header only
    empty = run(lendkit, files, kinds=("users",))
    assert empty.exit_code == 0 and "the files hold no rows" in empty.output and "--nothing" in empty.output
    assert not run_gate(preloaded, "data_loaded")[0].passed
    assert lendkit("tenant", "import", "alpha", "--nothing", "--users", str(users)).exit_code == 2
    recorded = lendkit("tenant", "import", "alpha", "--nothing")
    assert recorded.exit_code == 0 and "no base data" in recorded.output
    checks = run_gate(preloaded, "data_loaded")
    assert all(c.passed for c in checks) and "the client brings no base data" in checks[0].detail
    again = lendkit("tenant", "import", "alpha", "--nothing")
    assert again.exit_code == 1 and "imported already" in again.output
