"""`lendkit tenant seed`: demo people and a part-funded listing per product, on the sandbox bank only."""
import copy

from sqlalchemy import func, select

from core.accounts.models import User
from core.accounts.policy import password_matches
from core.delivery import gates  # noqa: F401  (registers the gates)
from core.delivery.demo import DEMO_PASSWORD, DEMO_PEOPLE, seed_demo
from core.delivery.stages import run_gate
from core.extensions import db
from core.lending.models import Bid, Loan
from core.tenancy import tenant_context


def _loans(tenant):
    with tenant_context(tenant):
        return db.session.execute(select(Loan.id, Loan.status, Loan.amount, Loan.bid_total, Loan.product_code)
                                  .order_by(Loan.id)).all()


def test_seed_lists_a_part_funded_loan_per_product_with_demo_people(tenant_a, lendkit, client_a):
    result = lendkit("tenant", "seed", "alpha")
    assert result.exit_code == 0, result.output
    assert "2 demo listings" in result.output
    loans = _loans(tenant_a)
    assert {row.product_code for row in loans} == {p["code"] for p in tenant_a.config["products"]}
    for row in loans:
        assert row.status == "listed" and 0 < row.bid_total < row.amount
    with tenant_context(tenant_a):
        borrower = User.by_mobile(tenant_a, DEMO_PEOPLE["borrower"])
        assert borrower is not None and password_matches(borrower.password_hash, DEMO_PASSWORD)
        assert {"borrower"} <= borrower.role_names
        assert db.session.scalar(select(func.count(Bid.id))) >= len(loans)
    page = client_a.get(f"/loans/{loans[0].id}")
    assert page.status_code == 200
    assert "王小明" not in page.get_data(as_text=True)  # the borrower's identity is masked on the listing


def test_seeding_twice_adds_nothing(tenant_a, lendkit):
    assert lendkit("tenant", "seed", "alpha").exit_code == 0
    first = _loans(tenant_a)
    with tenant_context(tenant_a):
        users = db.session.scalar(select(func.count(User.id)))
    assert lendkit("tenant", "seed", "alpha").exit_code == 0
    assert _loans(tenant_a) == first
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count(User.id))) == users


def test_the_demo_gate_needs_a_listing_and_passes_once_seeded(tenant_a, lendkit):
    named = {c.name: c for c in run_gate(tenant_a, "demo")}
    assert not named["a listing renders"].passed and "lendkit tenant seed alpha" in named["a listing renders"].detail
    lendkit("tenant", "seed", "alpha")
    named = {c.name: c for c in run_gate(tenant_a, "demo")}
    assert named["a listing renders"].passed and "answered 200" in named["a listing renders"].detail


def test_demo_listings_stay_with_their_tenant(tenant_a, tenant_b, lendkit, client_b):
    lendkit("tenant", "seed", "alpha")
    alpha_loan = _loans(tenant_a)[0].id
    assert _loans(tenant_b) == []
    assert client_b.get(f"/loans/{alpha_loan}").status_code == 404


def test_a_tenant_on_a_real_bank_gets_no_demo_money(tenant_a):
    config = copy.deepcopy(tenant_a.config)
    config["providers"]["custody"] = {"name": "http", "settings": {}}
    with tenant_context(tenant_a):
        tenant_a.config = config
        seeded = seed_demo(tenant_a)
        assert seeded.listings == 0 and "sandbox" in seeded.skipped
        assert db.session.scalar(select(func.count(User.id))) == 0


def test_clear_demo_deletes_people_money_and_loans_but_keeps_the_site(tenant_a, lendkit):
    from core.audit.models import AuditRecord
    from core.ledger.models import JournalEntry
    from core.notices.models import Notice

    lendkit("tenant", "seed", "alpha")
    with tenant_context(tenant_a):
        db.session.add(Notice(key="welcome", title="Welcome", body="Hello"))
        db.session.commit()
    named = {c.name: c for c in run_gate(tenant_a, "configured")}
    assert not named["no demo money or loans left"].passed
    assert "lendkit tenant clear-demo alpha --confirm alpha" in named["no demo money or loans left"].detail
    refused = lendkit("tenant", "clear-demo", "alpha", "--confirm", "beta")
    assert refused.exit_code == 1 and "does not match" in refused.output
    result = lendkit("tenant", "clear-demo", "alpha", "--confirm", "alpha")
    assert result.exit_code == 0 and "demo rows deleted" in result.output
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count(User.id))) == 0
        assert db.session.scalar(select(func.count(Loan.id))) == 0
        assert db.session.scalar(select(func.count(JournalEntry.id))) == 0
        assert db.session.scalar(select(func.count(Notice.id))) == 1  # the site's notices stay
        assert db.session.scalar(select(AuditRecord.event).order_by(AuditRecord.seq.desc()).limit(1)) == "delivery.demo_cleared"
    assert {c.name: c for c in run_gate(tenant_a, "configured")}["no demo money or loans left"].passed
    again = lendkit("tenant", "seed", "alpha")  # the sandbox bank was emptied too: the demo can be seeded again
    assert again.exit_code == 0 and "2 demo listings" in again.output, again.output


def test_clear_demo_is_refused_once_real_providers_may_be_chosen(tenant_a, tenant_b, lendkit):
    lendkit("tenant", "seed", "beta")
    tenant_a.stage = "configured"
    db.session.commit()
    result = lendkit("tenant", "clear-demo", "alpha", "--confirm", "alpha")
    assert result.exit_code == 1 and "before the configured stage" in result.output
    assert lendkit("tenant", "clear-demo", "alpha", "--confirm", "alpha").exit_code == 1
    with tenant_context(tenant_b):  # clearing one tenant never touches another
        assert db.session.scalar(select(func.count(Loan.id))) == 1
