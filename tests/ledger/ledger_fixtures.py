"""Fixtures of the ledger tests: tenant alpha bound, the platform's accounts and a few users opened.

Test modules import these fixtures (``from ledger_fixtures import books``)
instead of a ``conftest.py``: several folder-level ``conftest.py`` files all
live in ``sys.modules`` as ``conftest``, so a test doing ``from conftest
import …`` would get the last one loaded, not ``tests/conftest.py``.
"""
from __future__ import annotations

import itertools

import pytest

from core.ledger import journal
from core.ledger.chart import account, open_platform_accounts, open_user_accounts
from core.tenancy import tenant_context

CLEARING = "platform:bank_clearing"


class Books:
    """Helpers over the bound tenant's books."""

    def __init__(self):
        self._keys = itertools.count(1)

    def key(self, prefix: str = "k") -> str:
        return f"{prefix}-{next(self._keys)}"

    @staticmethod
    def avail(user_id: int) -> str:
        return f"user:{user_id}:available"

    @staticmethod
    def frozen(user_id: int) -> str:
        return f"user:{user_id}:frozen"

    def fund(self, user_id: int, amount: int, key: str | None = None):
        """A posted deposit: Dr bank_clearing / Cr the user's available funds."""
        return journal.record([(CLEARING, amount), (self.avail(user_id), -amount)],
                              key=key or self.key("deposit"), kind="deposit")

    @staticmethod
    def balance(code: str) -> int:
        """Posted balance on the account's normal side."""
        return account(code).posted_balance

    @staticmethod
    def spendable(code: str) -> int:
        return account(code).spendable

    @staticmethod
    def open_users(*user_ids):
        for user_id in user_ids:
            open_user_accounts(user_id)


@pytest.fixture
def books(app, tenant_a):
    """Tenant alpha bound, platform accounts and users 1, 2, 3 opened."""
    with tenant_context(tenant_a):
        open_platform_accounts()
        Books.open_users(1, 2, 3)
        yield Books()
