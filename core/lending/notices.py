"""SMS notices about loans, each sent once per key and recorded (:class:`LoanNotice`).

A rerun of a job computes the same keys, so nobody is texted twice. Texts are
translated into the recipient's locale. A gateway failure is recorded
(``failed``) and never undoes the step that caused the notice.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar

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


def told_by_lending(entry) -> bool:
    """True for a ledger entry whose movement the lending notices already text its people about, so the
    SMS plugin's ``money_moved`` text would tell them twice: a collection batch (per installment, and the
    day's digest), a bid's freeze ("bid placed … the amount is frozen") and a failed listing's release
    ("… your amount is unfrozen")."""
    from core.lending.bidding import FREEZE_KEY_PREFIX, RELEASE_KEY_PREFIX
    from core.lending.collection import KEY_PREFIX, instruction_key

    key = instruction_key(entry)
    return bool(key) and key.startswith((KEY_PREFIX, FREEZE_KEY_PREFIX, RELEASE_KEY_PREFIX))


def notify(user_id: int, event: str, key: str, *, loan=None, **values) -> LoanNotice | None:
    """Text ``user_id`` the ``event`` notice once per ``key``; returns the record (None when already sent).

    ``values`` fill the text; ``amount`` (int minor units) is formatted as money
    and ``date``/``deadline`` as dates in the recipient's locale. The record is
    added to the session; the caller commits. Sending many? Do it inside
    :func:`many`.
    """
    key = key[:200]
    session = db.session
    many = _many.get()
    with session.no_autoflush:  # the caller's pending changes are not ours to flush here
        if many is not None and key in many.checked:
            if key in many.used:
                return None
            many.used.add(key)
        elif any(isinstance(o, LoanNotice) and o.key == key for o in session.new) or \
                session.scalar(select(LoanNotice.id).where(LoanNotice.key == key)) is not None:
            return None
        from core.accounts.models import User
        from core.accounts.sms import send_text
        from core.sms import SmsError

        tenant = session.get(Tenant, current_tenant_id())
        user = session.get(User, user_id)
    record = LoanNotice(key=key, user_id=user_id, loan_id=loan.id if loan is not None else None, event=event)
    if user is None:
        record.state = "skipped"
        session.add(record)
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
    session.add(record)
    return record


class _Many:
    def __init__(self, checked: set[str], used: set[str]):
        self.checked, self.used = checked, used


_many: ContextVar[_Many | None] = ContextVar("lendkit_notices_many", default=None)


@contextmanager
def many(user_ids, keys):
    """Around many :func:`notify` calls: their recipients loaded in one query, and which of ``keys`` were
    already used looked up in one (instead of one lookup per notice)."""
    recipients = prefetch(user_ids)
    keys = sorted({k[:200] for k in keys})
    used: set[str] = set()
    for start in range(0, len(keys), 1000):
        used.update(db.session.scalars(select(LoanNotice.key).where(LoanNotice.key.in_(keys[start:start + 1000]))))
    token = _many.set(_Many(set(keys), used))
    try:
        yield
    finally:
        _many.reset(token)
        del recipients


def prefetch(user_ids) -> list:
    """Load these recipients (with their roles) in one query per thousand, so :func:`notify` finds them in
    the session. Keep the returned list while notifying: the session holds its objects only weakly."""
    from core.accounts.models import User

    ids = sorted({int(i) for i in user_ids})
    users = []
    for start in range(0, len(ids), 1000):
        users += db.session.scalars(select(User).where(User.id.in_(ids[start:start + 1000]))).all()
    return users


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
            elif name == "reason" and event == "bid_void":  # the bank's refusal code, in words
                from core.custody.service import refusal_text

                filled[name] = refusal_text(value)
            else:
                filled[name] = str(value)
        return gettext(TEXTS[event]._args[0], **filled)
