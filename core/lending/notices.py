"""SMS notices about loans, each sent once per key and recorded (:class:`LoanNotice`).

A rerun of a job computes the same keys, so nobody is texted twice. Texts are
translated into the recipient's locale. A gateway failure is recorded
(``failed``) and never undoes the step that caused the notice.
"""
from __future__ import annotations

import logging

from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.extensions import db
from core.lending.models import LoanNotice
from core.tenancy.models import Tenant
from core.tenancy.scoping import current_tenant_id

log = logging.getLogger("lendkit.lending")

#: Texts per notice (translated to the recipient's locale when sent).
TEXTS = {
    "submitted": _l("[%(brand)s] We received your loan application %(number)s for %(amount)s. We will let you know once it is reviewed."),
    "rejected": _l("[%(brand)s] Your loan application %(number)s was not approved: %(reason)s"),
    "listed": _l("[%(brand)s] Your loan %(number)s is approved and open for bids until %(deadline)s."),
    "bid_placed": _l("[%(brand)s] You bid %(amount)s on loan %(number)s; the amount is frozen in your custody account."),
    "bid_void": _l("[%(brand)s] Your bid on loan %(number)s could not be placed: %(reason)s"),
    "funded": _l("[%(brand)s] Loan %(number)s is fully funded; the money is on its way."),
    "failed_borrower": _l("[%(brand)s] Your loan %(number)s was not fully funded by its deadline and is closed."),
    "failed_investor": _l("[%(brand)s] Loan %(number)s was not fully funded; your %(amount)s is unfrozen."),
    "disbursed_borrower": _l("[%(brand)s] Loan %(number)s: %(amount)s was paid into your custody account. First installment %(due)s on %(date)s."),
    "disbursed_investor": _l("[%(brand)s] Loan %(number)s was disbursed; your claim of %(amount)s earns interest from today."),
    "due_soon": _l("[%(brand)s] Loan %(number)s: installment %(installment)s of %(amount)s is due on %(date)s. Please keep enough in your custody account."),
    "repaid": _l("[%(brand)s] Loan %(number)s: we collected %(amount)s for installment %(installment)s. Thank you."),
    "paid_off": _l("[%(brand)s] Loan %(number)s is paid off. Thank you."),
    "received": _l("[%(brand)s] You received %(amount)s in repayments today."),
    "overdue": _l("[%(brand)s] Loan %(number)s: installment %(installment)s is overdue. Penalty interest now accrues daily; please repay %(amount)s as soon as possible."),
    "reserve_paid": _l("[%(brand)s] Loan %(number)s is overdue; the risk reserve paid you %(amount)s for installment %(installment)s."),
    "defaulted": _l("[%(brand)s] Loan %(number)s is in default. Please contact customer service."),
    "claim_sold": _l("[%(brand)s] Your claim on loan %(number)s was sold for %(amount)s."),
    "claim_bought": _l("[%(brand)s] You bought a claim on loan %(number)s for %(amount)s."),
}


def notify(user_id: int, event: str, key: str, *, loan=None, **values) -> LoanNotice | None:
    """Text ``user_id`` the ``event`` notice once per ``key``; returns the record (None when already sent).

    ``values`` fill the text; ``amount`` (int minor units) is formatted as money
    and ``date``/``deadline`` as dates in the recipient's locale. Flushes; the caller commits.
    """
    if db.session.scalar(select(LoanNotice.id).where(LoanNotice.key == key)) is not None:
        return None
    from core.accounts.models import User
    from core.accounts.sms import send_text
    from core.sms import SmsError

    tenant = db.session.get(Tenant, current_tenant_id())
    user = db.session.get(User, user_id)
    record = LoanNotice(key=key[:200], user_id=user_id, loan_id=loan.id if loan is not None else None, event=event)
    if user is None:
        record.state = "skipped"
        db.session.add(record)
        db.session.flush()
        return record
    record.text = render(tenant, user.locale or tenant.default_locale, event, loan=loan, **values)
    try:
        receipt = send_text(tenant, user.mobile, record.text)
        record.message_id = receipt.message_id[:100]
    except SmsError:
        record.state = "failed"
    except Exception:  # noqa: BLE001 - a notice never undoes the step it reports
        log.exception("notice %s to user %s failed", event, user_id)
        record.state = "failed"
    db.session.add(record)
    db.session.flush()
    return record


def render(tenant, locale: str, event: str, *, loan=None, **values) -> str:
    from core.i18n import money

    if locale not in tenant.locales:
        locale = tenant.default_locale
    with force_locale(locale):
        from flask_babel import format_date

        filled = {"brand": tenant.name, "number": loan.number if loan is not None else ""}
        for name, value in values.items():
            if name == "amount" or name == "due":
                filled[name] = money(value, tenant.currency)
            elif name in ("date", "deadline") and value is not None:
                filled[name] = format_date(value, "medium")
            else:
                filled[name] = str(value)
        return gettext(TEXTS[event]._args[0], **filled)
