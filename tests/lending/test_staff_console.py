"""The staff console on a busy day: the dashboard's queues by permission, the collection list, the audit
log in words — each only ever showing the staff member's own tenant."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.extensions import db
from core.lending.daily import run_day
from core.lending.lifecycle import get_loan
from core.lending.models import Installment
from core.lending.overdue import add_collection_note
from testbed import web_session as sign_in


@pytest.fixture
def busy_day(world, people):
    """One application waiting for the first review, one for the risk review, one loan overdue with a note."""
    from core.lending.applications import create_application, review

    def apply(purpose):
        return create_application(world.user("borrower"), product_code="consumer", amount=300_000, months=3,
                                  method="equal_installment", purpose=purpose, repayment_source="Salary",
                                  industry="Transport")

    first = apply("Car repair")
    second = apply("Tuition")
    review(people.reviewer, second.id, "approved", "Documents complete")
    late = world.listed_loan(people.borrower, people.reviewer, people.risk, amount=1_000_000, months=3)
    world.fund(late, people.investors)
    from core.custody import service
    from core.ledger.chart import account

    spent = account(f"user:{people.borrower.id}:available").posted_balance
    service.withdraw(people.borrower.id, spent, key="borrower-spends-it")
    due = db.session.scalars(select(Installment).where(Installment.loan_id == late.id)
                             .order_by(Installment.number)).first().due_date
    run_day(due + timedelta(days=5))  # overdue since due + 4 (three grace days): 2 days overdue on due + 5
    add_collection_note(late.id, people.risk, status="promised", note="Promised to pay on Friday")

    class Day:
        first_id, second_id, late_id = first.id, second.id, late.id
        late_number = late.number

    return Day


def test_the_dashboard_shows_each_queue_the_permissions_allow(world, people, busy_day, client_a):
    admin = world.staff("tenant_admin")
    html = sign_in(client_a, world, admin).get("/staff/").get_data(as_text=True)
    for text in ("identities waiting for review",
                 "First review of loans", "Risk review of loans", "1 loan application waiting",
                 "Collection", "1 loan overdue or defaulted", "Promised to pay: 1", "Listings",
                 "Reconciliation", "No reconciliation has run yet.", "is not reconciled yet."):
        assert text in html, text
    # every staff page is in the staff menu; none of them in the site's menu among Invest and Wallet
    for endpoint in ("/staff/loans", "/staff/collection", "/staff/finance/reconciliation", "/staff/settings/branding",
                     "/staff/audit"):
        assert f'href="{endpoint}"' in html, endpoint
    site_menu = html.split('class="subnav staff-nav"')[0]
    assert 'href="/staff/finance/reconciliation"' not in site_menu and 'href="/staff/settings/branding"' not in site_menu

    reviewer = sign_in(client_a, world, people.reviewer).get("/staff/").get_data(as_text=True)
    assert "First review of loans" in reviewer and "KYC review" in reviewer
    assert "Risk review of loans" not in reviewer and "Promised to pay" not in reviewer
    assert 'href="/staff/collection"' not in reviewer and 'href="/staff/finance/reconciliation"' not in reviewer
    assert 'href="/staff/settings/branding"' not in reviewer and 'href="/staff/loans"' in reviewer


def test_the_collection_list_in_words_and_figures(world, people, busy_day, client_a):
    loan = get_loan(busy_day.late_id)
    overdue = db.session.scalars(select(Installment).where(Installment.loan_id == loan.id,
                                                           Installment.status == "overdue")).all()
    from core.i18n import money

    staff = sign_in(client_a, world, people.risk)
    page = staff.get("/staff/collection")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and busy_day.late_number in html
    assert f'href="/loans/{loan.id}#collection"' in html
    assert ">2 days<" in html
    with client_a.application.test_request_context(headers={"Host": "alpha.test"}):
        from flask import g

        g.tenant = world.tenant
        assert money(sum(i.total_due for i in overdue), loan.currency) in html
        assert money(loan.principal_outstanding, loan.currency) in html
    assert "Promised to pay" in html and "Promised to pay on Friday" in html
    assert ">none<" not in html and ">promised<" not in html
    assert busy_day.late_number not in staff.get("/staff/collection?collection=legal").get_data(as_text=True)
    staff.get("/locale/zh_CN")
    zh = staff.get("/staff/collection").get_data(as_text=True)
    assert "承诺还款" in zh
    loans_page = staff.get("/staff/loans").get_data(as_text=True)
    assert "collection: none" not in loans_page.lower()
    # the reviewer sees loans but writes no collection notes: no collection list either
    assert sign_in(client_a, world, people.reviewer).get("/staff/collection").status_code == 403


def test_the_audit_log_reads_as_words_names_and_money(world, people, busy_day, client_a):
    auditor = world.staff("risk_officer")
    html = sign_in(client_a, world, auditor).get("/staff/audit").get_data(as_text=True)
    assert "Loan review: approved" in html and "Collection note recorded" in html
    assert "loan.review.approved" not in html.replace('title="loan.review.approved"', "")
    assert ">user:" not in html
    assert people.reviewer.masked_mobile in html
    assert "3,000.00" in html and "300000" not in html  # the application's amount as money
    assert '{"' not in html  # no raw JSON


def test_staff_of_another_tenant_see_none_of_it(world, people, busy_day, client_b, tenant_b, kit):
    number = busy_day.late_number
    secret = kit.staff(tenant_b, "13900000091", roles=("tenant_admin",))
    kit.web_login(client_b, "13900000091", totp_secret=secret)
    dashboard = client_b.get("/staff/").get_data(as_text=True)  # beta's site is in Chinese
    assert "0 笔借款逾期或违约" in dashboard and "承诺还款" not in dashboard
    assert "0 笔借款申请待审" in dashboard
    collection = client_b.get("/staff/collection").get_data(as_text=True)
    assert number not in collection and "collection-list" not in collection  # no table: beta has no overdue loan
    audit = client_b.get("/staff/audit").get_data(as_text=True)
    assert "借款审核：通过" not in audit and "已记录催收备注" not in audit
    assert number not in client_b.get("/staff/loans").get_data(as_text=True)
