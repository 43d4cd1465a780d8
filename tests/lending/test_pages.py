"""The lending pages in both languages: listings with disclosure, applying, bidding, the portfolio, staff review."""
import pytest

from core.lending.lifecycle import get_loan
from lending_support import PASSWORD, TX_PASSWORD
from testbed import web_session as sign_in


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


def test_the_borrower_sees_what_repay_now_takes_before_the_schedule_in_words_not_codes(world, people, client_a):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=600_000, months=3)
    world.fund(loan, people.investors[:2])
    sign_in(client_a, world, people.borrower)
    client_a.get("/locale/zh_CN")
    html = client_a.get(f"/loans/{loan.id}").get_data(as_text=True)
    assert "第 1 期，" in html and "到期：" in html  # the installment "Repay now" pays, with its amount
    assert html.index("立即还款") < html.index("还款计划")  # the button before the 3-row schedule, not after it
    assert "待还" in html and ">due<" not in html  # installment status as a word
    client_a.get("/locale/en")
    html = client_a.get(f"/loans/{loan.id}").get_data(as_text=True)
    assert "Installment 1, due " in html and ">Due<" in html
    assert "lendkit contract verify" not in html  # no command line on a customer's page


def test_a_refused_bid_keeps_the_amount_typed_and_a_negative_amount_is_named(world, people, client_a):
    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=600_000)
    sign_in(client_a, world, people.investors[0])
    wrong = client_a.post(f"/loans/{loan.id}/bid", data={"amount": "250", "transaction_password": "wrong-pass-1"},
                          follow_redirects=True).get_data(as_text=True)
    assert "The transaction password is wrong." in wrong and 'value="250"' in wrong
    negative = client_a.post(f"/loans/{loan.id}/bid", data={"amount": "-200", "transaction_password": TX_PASSWORD},
                             follow_redirects=True).get_data(as_text=True)
    assert "The amount must be more than zero." in negative
    assert get_loan(loan.id).bid_total == 0


@pytest.mark.parametrize("locale,text", [("en", "Your account does not have access to this page."),
                                         ("zh_CN", "您的账户无权访问此页面。")])
def test_a_page_someone_may_not_see_says_so_in_their_language(world, people, client_a, locale, text):
    sign_in(client_a, world, people.investors[0])  # an investor, not a borrower
    client_a.get(f"/locale/{locale}")
    page = client_a.get("/loans/mine")
    html = page.get_data(as_text=True)
    assert page.status_code == 403 and text in html
    assert "You don't have the permission" not in html  # the web framework's English boilerplate


def test_the_daily_jobs_reasons_in_a_loans_history_are_in_the_readers_language(world, people, client_a):
    from datetime import timedelta

    from core.extensions import db
    from core.lending.bidding import expire_listings

    loan = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=600_000)
    assert expire_listings(now=get_loan(loan.id).deadline + timedelta(minutes=1))["failed"] == 1
    db.session.commit()
    sign_in(client_a, world, people.borrower)
    client_a.get("/locale/zh_CN")
    html = client_a.get(f"/loans/{loan.id}").get_data(as_text=True)
    assert "募集期已结束" in html and "deadline passed" not in html
