"""The lending pages in both languages: listings with disclosure, applying, bidding, the portfolio, staff review."""
import pytest

from core.lending.lifecycle import get_loan
from lending_support import PASSWORD, TX_PASSWORD


def sign_in(client, world, user):
    """A browser session for ``user`` (staff pass the second factor)."""
    from core.accounts.signin import open_session
    from core.extensions import db

    token = open_session(world.tenant, user, kind="web", second_factor=True)
    db.session.commit()
    with client.client.session_transaction(base_url=f"http://{client.host}") as session:
        session["tenant_id"] = world.tenant.id
        session["_user_id"] = token
        session["_fresh"] = True
    return client


@pytest.mark.parametrize("locale,text", [("en", "Borrowing on other platforms"), ("zh_CN", "Loans")])
def test_a_listing_shows_progress_time_left_and_the_disclosure(world, people, client_a, locale, text):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk)
    client_a.get(f"/locale/{locale}")
    page = client_a.get(f"/loans/{loan.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and loan.number in html
    assert "left" in html or "min" in html
    listing = client_a.get("/loans")
    assert listing.status_code == 200 and loan.number in listing.get_data(as_text=True)
    if locale == "en":
        assert text in html and "Risk assessment" in html and 'role="progressbar"' in html


def test_a_borrower_applies_and_an_investor_bids_through_the_pages(world, people, client_a):
    sign_in(client_a, world, people.borrower)
    form = client_a.get("/loans/apply")
    assert form.status_code == 200
    sent = client_a.post("/loans/apply", data={"product_code": "consumer", "amount": "5000", "months": "3",
                                               "method": "equal_installment", "purpose": "Tuition", "repayment_source": "Salary",
                                               "industry": "Teaching", "monthly_income": "9000", "safeguards": ""})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    loan_id = int(sent.headers["Location"].rstrip("/").split("/")[-1])
    assert client_a.get("/loans/mine").status_code == 200
    from core.lending.applications import review

    review(people.reviewer, loan_id, "approved", "ok")
    review(people.risk, loan_id, "approved", "Low risk")
    investor = people.investors[0]
    from testbed import HostClient

    browser = sign_in(HostClient(client_a.application, "alpha.test"), world, investor)
    bid = browser.post(f"/loans/{loan_id}/bid", data={"amount": "5000", "transaction_password": TX_PASSWORD})
    assert bid.status_code == 302
    assert get_loan(loan_id).status == "repaying"
    assert browser.get("/invest").status_code == 200
    pdf = browser.get(f"/loans/{loan_id}/contract.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert PASSWORD


def test_staff_see_the_queue_and_review_on_the_page(world, people, client_a):
    from core.lending.applications import create_application

    loan = create_application(people.borrower, product_code="consumer", amount=300_000, months=3,
                              method="equal_installment", purpose="Car repair", repayment_source="Salary",
                              industry="Transport")
    staff = sign_in(client_a, world, people.reviewer)
    queue = staff.get("/staff/loans")
    assert queue.status_code == 200 and loan.number in queue.get_data(as_text=True)
    done = staff.post(f"/staff/loans/{loan.id}/review", data={"decision": "rejected", "reason": "Income not proven"})
    assert done.status_code == 302 and get_loan(loan.id).status == "rejected"


def test_a_borrower_repays_and_prepays_from_the_pages(world, people, client_a):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=600_000, months=3)
    world.fund(loan, people.investors[:2])
    world.deposit(people.borrower, 1_000_000)
    sign_in(client_a, world, people.investors[0])
    assert client_a.post(f"/loans/{loan.id}/repay", data={"transaction_password": TX_PASSWORD}).status_code == 403
    sign_in(client_a, world, people.borrower)
    refused = client_a.post(f"/loans/{loan.id}/repay", data={"transaction_password": "wrong-pass-1"},
                            follow_redirects=True).get_data(as_text=True)
    assert "Thank you" not in refused and get_loan(loan.id).principal_outstanding == 600_000
    paid = client_a.post(f"/loans/{loan.id}/repay", data={"transaction_password": TX_PASSWORD},
                         follow_redirects=True).get_data(as_text=True)
    assert "Thank you:" in paid and "was repaid" in paid
    assert get_loan(loan.id).principal_outstanding < 600_000
    done = client_a.post(f"/loans/{loan.id}/prepay", data={"transaction_password": TX_PASSWORD},
                         follow_redirects=True).get_data(as_text=True)
    assert "The loan is paid off:" in done
    assert get_loan(loan.id).status == "paid_off"
