"""The /api/v1/loans endpoints: the lifecycle over HTTP, refusals as the one error body (409 from the
wrong state), and every endpoint blind to another tenant's loans."""
import pytest
from sqlalchemy import select

from core.extensions import db
from core.lending.lifecycle import get_loan
from core.lending.models import Claim
from lending_support import TX_PASSWORD

APPLICATION = {"product_code": "consumer", "amount": 600_000, "months": 3, "method": "equal_principal",
               "purpose": "Wedding", "repayment_source": "Salary", "industry": "Retail", "monthly_income": 900_000}


def test_a_loan_over_the_api_from_application_to_repayment(world, people, client_a):
    borrower = world.token(people.borrower)
    created = client_a.post("/api/v1/loans", json=APPLICATION, headers=borrower)
    assert created.status_code == 201, created.get_json()
    loan_id = created.get_json()["id"]
    assert created.get_json()["status"] == "submitted"
    again = client_a.post(f"/api/v1/loans/{loan_id}/submit", headers=borrower)
    assert again.status_code == 409 and set(again.get_json()) >= {"code", "status", "message"}
    queue = client_a.get("/api/v1/loans/review-queue", headers=world.token(people.reviewer))
    assert [l["id"] for l in queue.get_json()] == [loan_id]
    wrong_step = client_a.post(f"/api/v1/loans/{loan_id}/reviews", json={"decision": "approved", "reason": "fine"},
                               headers=world.token(people.risk))
    assert wrong_step.status_code == 403
    for staff in (people.reviewer, people.risk):
        step = client_a.post(f"/api/v1/loans/{loan_id}/reviews", json={"decision": "approved", "reason": "Checked"},
                             headers=world.token(staff))
        assert step.status_code == 200, step.get_json()
    listed = client_a.get(f"/api/v1/loans/{loan_id}").get_json()
    assert listed["status"] == "listed" and listed["disclosure"]["grade"] == "AAA"
    assert "*" in listed["disclosure"]["identity"] and "overdue_count_6m" in listed["disclosure"]
    bid = client_a.post(f"/api/v1/loans/{loan_id}/bids", json={"amount": 700_000, "transaction_password": TX_PASSWORD,
                                                             "key": "b1"}, headers=world.token(people.investors[0]))
    assert bid.status_code == 201 and bid.get_json()["amount"] == 600_000
    late = client_a.post(f"/api/v1/loans/{loan_id}/bids", json={"amount": 10_000, "transaction_password": TX_PASSWORD},
                         headers=world.token(people.investors[1]))
    assert late.status_code == 409
    schedule = client_a.get(f"/api/v1/loans/{loan_id}/schedule", headers=borrower)
    assert schedule.status_code == 200 and len(schedule.get_json()) == 3
    world.deposit(people.borrower, 100_000)
    paid = client_a.post(f"/api/v1/loans/{loan_id}/repayments", json={"transaction_password": TX_PASSWORD}, headers=borrower)
    assert paid.status_code == 201 and paid.get_json()["state"] == "done"
    quote = client_a.get(f"/api/v1/loans/{loan_id}/prepayment", headers=borrower).get_json()
    assert quote["total"] == quote["principal"] + quote["interest"] + quote["management_fee"] + quote["prepayment_fee"]
    world.deposit(people.borrower, quote["total"])
    off = client_a.post(f"/api/v1/loans/{loan_id}/prepayment", json={"transaction_password": TX_PASSWORD}, headers=borrower)
    assert off.status_code == 201 and get_loan(loan_id).status == "paid_off"
    assert client_a.post(f"/api/v1/loans/{loan_id}/repayments", json={"transaction_password": TX_PASSWORD},
                         headers=borrower).status_code == 409


def test_claims_change_hands_at_a_price(world, people, client_a):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=400_000)
    world.fund(loan, people.investors[:2])
    seller, buyer = people.investors[0], people.investors[2]
    claim = db.session.scalars(select(Claim).where(Claim.holder_id == seller.id)).one()
    offer = client_a.post(f"/api/v1/loans/claims/{claim.id}/offer", json={"price": 195_000}, headers=world.token(seller))
    assert offer.status_code == 200 and offer.get_json()["asking_price"] == 195_000
    market = client_a.get("/api/v1/loans/claims/market", headers=world.token(buyer)).get_json()
    assert [c["id"] for c in market] == [claim.id]
    bought = client_a.post(f"/api/v1/loans/claims/{claim.id}/buy", json={"transaction_password": TX_PASSWORD,
                                                                        "price": 195_000}, headers=world.token(buyer))
    assert bought.status_code == 201, bought.get_json()
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).status == "transferred"
    new = db.session.scalars(select(Claim).where(Claim.previous_id == claim.id)).one()
    assert (new.holder_id, new.share, new.price) == (buyer.id, claim.share, 195_000)
    from core.lending.repayment import repay_installment

    world.deposit(people.borrower, 200_000)
    rep = repay_installment(loan.id)
    from core.lending.models import Distribution

    holders = set(db.session.scalars(select(Distribution.holder_id).where(Distribution.repayment_id == rep.id)))
    assert holders == {buyer.id, people.investors[1].id}
    from lending_support import books_are_clean

    assert books_are_clean() == []


ENDPOINTS = [
    ("get", "/api/v1/loans/{id}", None),
    ("post", "/api/v1/loans/{id}/submit", None),
    ("post", "/api/v1/loans/{id}/reviews", {"decision": "approved", "reason": "fine"}),
    ("post", "/api/v1/loans/{id}/bids", {"amount": 10_000, "transaction_password": TX_PASSWORD}),
    ("get", "/api/v1/loans/{id}/bids", None),
    ("get", "/api/v1/loans/{id}/schedule", None),
    ("post", "/api/v1/loans/{id}/repayments", {"transaction_password": TX_PASSWORD}),
    ("get", "/api/v1/loans/{id}/prepayment", None),
    ("post", "/api/v1/loans/{id}/prepayment", {"transaction_password": TX_PASSWORD}),
    ("get", "/api/v1/loans/{id}/contract?format=pdf", None),
    ("get", "/api/v1/loans/{id}/collection-notes", None),
    ("post", "/api/v1/loans/{id}/collection-notes", {"status": "contacted", "note": "called"}),
    ("post", "/api/v1/loans/claims/{claim}/offer", {"price": 1000}),
    ("post", "/api/v1/loans/claims/{claim}/buy", {"transaction_password": TX_PASSWORD}),
]


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_another_tenants_loan_does_not_exist_on_this_host(world, people, client_b, tenant_b, method, path, body):
    from core.tenancy import tenant_context
    from lending_support import World

    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=400_000)
    world.fund(loan, people.investors[:2])
    claim_id = db.session.scalars(select(Claim.id).where(Claim.loan_id == loan.id)).first()
    loan_id = loan.id
    db.session.commit()
    with tenant_context(tenant_b):
        other = World()
        user = other.user("borrower", "investor", custody=False)
        staff = other.staff("reviewer", "risk_officer", "support")
        headers = other.token(staff if "reviews" in path or "collection" in path else user)
    url = path.format(id=loan_id, claim=claim_id)
    response = getattr(client_b, method)(url, json=body, headers=headers) if body is not None else \
        getattr(client_b, method)(url, headers=headers)
    assert response.status_code == 404, (url, response.status_code, response.get_json())
    listing = client_b.get("/api/v1/loans?status=repaying").get_json()
    assert listing == []
    page = client_b.get(f"/loans/{loan_id}")
    assert page.status_code == 404
