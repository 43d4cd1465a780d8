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


def _expire_demo_listings(tenant):
    """What `lendkit daily` does on a day after the listings' funding deadline: they fail, bids are released."""
    from datetime import timedelta

    from core.lending.bidding import expire_listings
    from core.tenancy.models import aware

    with tenant_context(tenant):
        latest = max(aware(deadline) for deadline in db.session.scalars(select(Loan.deadline)))
        counts = expire_listings(now=latest + timedelta(days=1))
        db.session.commit()
    return counts


def test_seed_lists_afresh_when_the_demo_listings_failed_and_the_gate_passes_again(tenant_a, lendkit):
    assert lendkit("tenant", "seed", "alpha").exit_code == 0
    first = _loans(tenant_a)
    assert _expire_demo_listings(tenant_a)["failed"] == 2
    assert {row.status for row in _loans(tenant_a)} == {"failed"}
    named = {c.name: c for c in run_gate(tenant_a, "demo")}
    assert not named["a listing renders"].passed and "lendkit tenant seed alpha" in named["a listing renders"].detail
    with tenant_context(tenant_a):
        users = db.session.scalar(select(func.count(User.id)))

    result = lendkit("tenant", "seed", "alpha")
    assert result.exit_code == 0 and "2 demo listings (2 new)" in result.output, result.output
    loans = _loans(tenant_a)
    fresh = [row for row in loans if row.id not in {old.id for old in first}]
    assert sorted(row.product_code for row in fresh) == sorted(row.product_code for row in first)
    for row in fresh:
        assert row.status == "listed" and 0 < row.bid_total < row.amount
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count(User.id))) == users  # the products' demo borrowers apply again
    named = {c.name: c for c in run_gate(tenant_a, "demo")}
    assert named["a listing renders"].passed, named["a listing renders"].detail


def test_seeding_twice_after_the_listings_failed_adds_one_listing_per_product(tenant_a, lendkit):
    _set_products(tenant_a, lambda products: products.__delitem__(0))  # one product: sme
    assert lendkit("tenant", "seed", "alpha").exit_code == 0
    _expire_demo_listings(tenant_a)
    assert "1 demo listing (1 new)" in lendkit("tenant", "seed", "alpha").output
    again = lendkit("tenant", "seed", "alpha")
    assert again.exit_code == 0 and again.output.rstrip().endswith("1 demo listing"), again.output
    assert [row.status for row in _loans(tenant_a)] == ["failed", "listed"]


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
    lendkit("tenant", "seed", "alpha")
    assert lendkit("tenant", "clear-demo", "alpha", "--confirm", "alpha").exit_code == 0
    with tenant_context(tenant_b):  # clearing one tenant never touches another
        assert db.session.scalar(select(func.count(Loan.id))) == 1
        assert db.session.scalar(select(func.count(User.id))) > 0
    tenant_a.stage = "configured"
    db.session.commit()
    result = lendkit("tenant", "clear-demo", "alpha", "--confirm", "alpha")
    assert result.exit_code == 1 and "has reached the configured stage" in result.output


def _set_products(tenant, change):
    config = copy.deepcopy(tenant.config)
    change(config["products"])
    tenant.config = config
    db.session.commit()


def test_every_product_gets_its_own_borrower_even_two_of_one_type(tenant_a, lendkit):
    def second_person_product(products):
        extra = copy.deepcopy(products[0])
        extra["code"] = "consumer-plus"
        products.append(extra)

    _set_products(tenant_a, second_person_product)
    result = lendkit("tenant", "seed", "alpha")
    assert result.exit_code == 0 and "3 demo listings" in result.output, result.output
    with tenant_context(tenant_a):
        borrowers = db.session.scalars(select(Loan.borrower_id)).all()
        assert len(set(borrowers)) == 3
        assert User.by_mobile(tenant_a, "13600000001") is not None  # the second person borrower


def test_an_enterprise_only_tenant_seeds_once(tenant_a, lendkit):
    _set_products(tenant_a, lambda products: products.__delitem__(0))  # only the sme product is left
    first = lendkit("tenant", "seed", "alpha")
    assert first.exit_code == 0 and "1 demo listing (1 new)" in first.output, first.output
    again = lendkit("tenant", "seed", "alpha")
    assert again.exit_code == 0 and again.output.rstrip().endswith("1 demo listing"), again.output
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count(Loan.id))) == 1


def test_a_seed_that_fails_halfway_keeps_nothing(tenant_a, lendkit, monkeypatch):
    from core.delivery.rehearsal import Cast

    real = Cast.listed_loan
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the bureau went away")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Cast, "listed_loan", failing)
    result = lendkit("tenant", "seed", "alpha")
    assert result.exit_code == 1 and "the bureau went away" in result.output
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count(User.id))) == 0
        assert db.session.scalar(select(func.count(Loan.id))) == 0
    monkeypatch.setattr(Cast, "listed_loan", real)
    assert "2 demo listings" in lendkit("tenant", "seed", "alpha").output  # and it seeds cleanly afterwards


def test_cards_stay_nineteen_digits_for_any_tenant_id(tenant_a):
    from types import SimpleNamespace

    from core.accounts.identity import luhn_check_digit
    from core.delivery.rehearsal import Cast

    with tenant_context(tenant_a):
        cast = Cast()
    for tenant_id in (1, 10, 123, 98765):
        cast.tenant = SimpleNamespace(id=tenant_id)
        card = cast.card()
        assert len(card) == 19 and card[-1] == luhn_check_digit(card[:-1])


def test_a_tenant_sent_back_from_configured_cannot_be_cleared_or_seeded(tenant_a, lendkit):
    from core.delivery.models import StageChange

    lendkit("tenant", "seed", "alpha")
    db.session.add(StageChange(tenant_id=tenant_a.id, from_stage="confirmed", to_stage="configured", action="advance", actor="op"))
    db.session.add(StageChange(tenant_id=tenant_a.id, from_stage="configured", to_stage="demo", action="send_back", actor="op",
                               reason="new logo"))
    tenant_a.stage = "demo"
    db.session.commit()
    result = lendkit("tenant", "clear-demo", "alpha", "--confirm", "alpha")
    assert result.exit_code == 1 and "has reached the configured stage" in result.output
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count(Loan.id))) == 2  # nothing deleted
        assert "configured for real providers" in seed_demo(tenant_a).skipped
