"""The lending services' typed refusals.

Each carries ``code`` (machine-readable, in API error bodies), ``status`` (the
HTTP status the API answers with) and a message people read (translated when
rendered). Nothing was changed when one is raised.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.ledger.errors import render


def _english(message) -> str:
    args, kwargs = getattr(message, "_args", ()), getattr(message, "_kwargs", {})
    if not args:
        return str(message)
    return args[0] % kwargs if kwargs else args[0]


class LendingError(Exception):
    """Base of lending refusals."""

    status = 422
    code = "refused"

    def __init__(self, message, *, code: str | None = None, status: int | None = None, field: str | None = None,
                 **details):
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.field = field
        self.details = details
        super().__init__(_english(message))

    def __str__(self) -> str:
        return render(self.message)


class LoanStateError(LendingError):
    """The loan is not in a state that allows this (a transition the table does not have)."""

    status = 409
    code = "invalid_transition"


class NotFound(LendingError):
    status = 404
    code = "not_found"


class Forbidden(LendingError):
    status = 403
    code = "forbidden"


class Conflict(LendingError):
    status = 409
    code = "conflict"


class TryLater(LendingError):
    status = 503
    code = "try_later"


STATE_NAMES = {
    "draft": _l("draft"),
    "submitted": _l("under review"),
    "approved": _l("approved"),
    "listed": _l("open for bids"),
    "funded": _l("fully funded"),
    "disbursed": _l("disbursed"),
    "repaying": _l("repaying"),
    "overdue": _l("overdue"),
    "paid_off": _l("paid off"),
    "rejected": _l("rejected"),
    "failed": _l("not funded"),
    "defaulted": _l("defaulted"),
    "written_off": _l("written off"),
}


def wrong_state(loan, wanted: str) -> LoanStateError:
    return LoanStateError(
        _l("Loan %(number)s is %(current)s and cannot become %(wanted)s.",
           number=loan.number, current=STATE_NAMES.get(loan.status, loan.status),
           wanted=STATE_NAMES.get(wanted, wanted)),
        current=loan.status, wanted=wanted,
    )


def not_now(loan, action) -> LoanStateError:
    """``action`` (a lazy string) is not possible while the loan is in its current state."""
    return LoanStateError(
        _l("Loan %(number)s is %(current)s: %(action)s is not possible now.",
           number=loan.number, current=STATE_NAMES.get(loan.status, loan.status), action=action),
        current=loan.status,
    )
