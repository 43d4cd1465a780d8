"""Fixtures of the lending tests: tenant alpha bound with its platform's custody sub-accounts open,
and the people of a loan (borrower, reviewer, risk officer, investors) — see lending_support.World."""
from __future__ import annotations

import pytest

from core.extensions import db
from core.tenancy import tenant_context


@pytest.fixture
def world(app, tenant_a):
    """Tenant alpha bound on the sandbox bank, platform sub-accounts opened, tasks in-process."""
    from core import jobs
    from lending_support import World

    jobs.init_app(app)
    with tenant_context(tenant_a):
        helper = World()
        helper.open_platform()
        yield helper
        db.session.rollback()


@pytest.fixture
def people(world):
    """A borrower (grade AAA), a reviewer, a risk officer and four funded investors."""
    class People:
        borrower = world.user("borrower")
        reviewer = world.staff("reviewer")
        risk = world.staff("risk_officer")
        investors = [world.user("investor", funds=5_000_000) for _ in range(4)]

    return People
