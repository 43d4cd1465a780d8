"""The loan's state machine: an explicit table; every move it lacks is refused with a clear error."""
import pytest

from core.lending.errors import LoanStateError
from core.lending.lifecycle import move
from core.lending.models import LOAN_STATES, LOAN_TRANSITIONS, Loan

EXPECTED = {
    "draft": {"submitted"},
    "submitted": {"approved", "rejected"},
    "approved": {"listed"},
    "listed": {"funded", "failed"},
    "funded": {"disbursed"},
    "disbursed": {"repaying"},
    "repaying": {"overdue", "paid_off"},
    "overdue": {"repaying", "paid_off", "defaulted"},
    "defaulted": {"written_off"},
    "paid_off": set(), "rejected": set(), "failed": set(), "written_off": set(),
}


def test_the_transition_table_is_the_documented_lifecycle():
    assert set(LOAN_TRANSITIONS) == set(LOAN_STATES)
    assert {state: set(targets) for state, targets in LOAN_TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize("old,new", [(o, n) for o in LOAN_STATES for n in LOAN_STATES if n not in EXPECTED[o]])
def test_every_move_outside_the_table_is_refused_and_changes_nothing(old, new):
    loan = Loan(number="LN00000001", status=old)
    with pytest.raises(LoanStateError) as refused:
        move(loan, new)
    assert loan.status == old
    assert refused.value.status == 409 and refused.value.code == "invalid_transition"
    assert "LN00000001" in str(refused.value) and "cannot become" in str(refused.value)


def test_an_allowed_move_records_an_event_and_tells_plugins(world, people):
    from core import hookimpl
    from core.extensions import db
    from core.lending.models import LoanEvent
    from core.plugins import get_plugin_manager
    from sqlalchemy import select

    heard = []

    class Listener:
        @hookimpl
        def loan_status_changed(self, tenant, loan, old_status, new_status):
            heard.append((tenant.slug, loan.number, old_status, new_status))

    pm = get_plugin_manager()
    plugin = Listener()
    pm.register(plugin, name="test-listener")
    try:
        loan = world.listed_loan(people.borrower, people.reviewer, people.risk)
    finally:
        pm.unregister(plugin)
    assert [h[2:] for h in heard] == [("draft", "submitted"), ("submitted", "approved"), ("approved", "listed")]
    assert heard[0][:2] == ("alpha", loan.number)
    events = db.session.scalars(select(LoanEvent).where(LoanEvent.loan_id == loan.id).order_by(LoanEvent.id)).all()
    assert [(e.old_status, e.new_status) for e in events] == [h[2:] for h in heard]


def test_services_refuse_steps_from_the_wrong_state(world, people):
    from core.lending.applications import review, submit_application
    from core.lending.bidding import place_bid
    from core.lending.disbursement import disburse
    from core.lending.errors import LendingError
    from core.lending.overdue import add_collection_note
    from core.lending.repayment import prepay, repay_installment
    from lending_support import TX_PASSWORD

    loan = world.listed_loan(people.borrower, people.reviewer, people.risk)
    with pytest.raises(LoanStateError):
        review(people.reviewer, loan.id, "approved", "again")
    with pytest.raises(LoanStateError):
        submit_application(people.borrower, loan.id)
    with pytest.raises(LoanStateError):
        repay_installment(loan.id)
    with pytest.raises(LoanStateError):
        prepay(loan.id)
    with pytest.raises(LoanStateError):
        add_collection_note(loan.id, people.risk, status="contacted", note="called")
    assert disburse(loan.id).status == "listed"  # not funded: nothing happens
    world.fund(loan, people.investors)
    with pytest.raises(LendingError) as closed:
        place_bid(people.investors[0], loan.id, 10_000, transaction_password=TX_PASSWORD)
    assert closed.value.status == 409
