"""Two tenants' books never meet: same codes and keys at both, nothing visible across."""
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.ledger import journal
from core.ledger.balances import verify
from core.ledger.chart import account, accounts, open_platform_accounts, open_user_accounts
from core.ledger.models import JournalEntry, JournalLine
from core.tenancy import tenant_context

CLEARING = "platform:bank_clearing"


def _fund(user_id, amount, key):
    return journal.record([(CLEARING, amount), (f"user:{user_id}:available", -amount)], key=key, kind="deposit")


def test_entries_accounts_and_keys_are_per_tenant(app, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        open_platform_accounts()
        open_user_accounts(1)
        alpha_entry = _fund(1, 500, "same-key")
        alpha_id = alpha_entry.id
    with tenant_context(tenant_b):
        open_platform_accounts()
        open_user_accounts(1)
        assert account(CLEARING).balance == 0  # beta's own account with the same code
        assert journal.entry_by_key("same-key") is None
        beta_entry = _fund(1, 7, "same-key")  # the same key at another tenant is another entry
        assert beta_entry.id != alpha_id
        assert db.session.get(JournalEntry, alpha_id) is None
        assert db.session.scalar(select(func.count(JournalLine.id))) == 2
        assert {a.currency for a in accounts()} == {"USD"}
        assert verify() == []
    with tenant_context(tenant_a):
        assert account("user:1:available").posted_balance == 500
        assert {a.currency for a in accounts()} == {"CNY"}


def test_a_tenant_cannot_post_void_or_reverse_another_tenants_entry(app, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        open_platform_accounts()
        open_user_accounts(1)
        _fund(1, 500, "dep")
        hold = journal.record([("user:1:available", 100), (CLEARING, -100)], key="w", kind="withdraw", pending=True)
        hold_id, posted_id = hold.id, journal.entry_by_key("dep").id
    with tenant_context(tenant_b):
        for action in (journal.post, journal.void):
            with pytest.raises(LookupError):
                action(hold_id)
        with pytest.raises(LookupError):
            journal.reverse(posted_id, "steal")
        with pytest.raises(journal.UnknownAccount):  # alpha's accounts do not exist here
            _fund(1, 1, "x")
    with tenant_context(tenant_a):
        assert journal.entry_by_key("w").state == "pending"
        assert account("user:1:available").spendable == 400


def test_the_database_refuses_a_line_on_another_tenants_entry_or_account(app, tenant_a, tenant_b):
    """A line's keys include its tenant: (tenant_id, entry_id) and (tenant_id, account_id), so no code can mix books."""
    with tenant_context(tenant_a):
        open_platform_accounts()
        open_user_accounts(1)
        alpha_entry = _fund(1, 500, "dep").id
        alpha_account = account("user:1:available").id
    with tenant_context(tenant_b):
        open_platform_accounts()
        open_user_accounts(1)
        beta_entry = _fund(1, 7, "dep").id
        beta_account = account("user:1:available").id
    line = text("INSERT INTO journal_line (tenant_id, entry_id, account_id, amount, currency)"
                " VALUES (:tenant, :entry, :account, 5, 'USD')")
    for entry_id, account_id in ((alpha_entry, beta_account), (beta_entry, alpha_account)):
        with pytest.raises(IntegrityError):  # beta's line on alpha's entry, or on alpha's account
            with db.engine.begin() as conn:
                conn.execute(line, {"tenant": tenant_b.id, "entry": entry_id, "account": account_id})
    with db.engine.begin() as conn:  # the same statement with beta's own entry and account is accepted
        conn.execute(line, {"tenant": tenant_b.id, "entry": beta_entry, "account": beta_account})
