"""The ledger's typed refusals. ``str()`` of each is the message a user may see, translated."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.money import from_minor


def render(message) -> str:
    """A lazy message as text: translated where a locale can be chosen (a request), else the English text.

    Outside a request (CLI, jobs, tests) the locale selector has no session to
    read, so the source string is formatted instead of failing.
    """
    try:
        return str(message)
    except RuntimeError:
        args, kwargs = getattr(message, "_args", ()), getattr(message, "_kwargs", {})
        if not args:
            raise
        return args[0] % kwargs if kwargs else args[0]


def major(amount: int, currency: str) -> str:
    """``123456, "CNY"`` → ``"1234.56 CNY"`` (exact, for messages)."""
    try:
        return f"{from_minor(amount, currency)} {currency}"
    except ValueError:
        return f"{amount} {currency}"


def _english(message) -> str:
    args, kwargs = getattr(message, "_args", ()), getattr(message, "_kwargs", {})
    if not args:
        return str(message)
    return args[0] % kwargs if kwargs else args[0]


class LedgerError(Exception):
    """Base of ledger refusals: nothing was written when one is raised."""

    #: Short machine-readable reason (API error bodies, logs).
    reason = "ledger_error"

    def __init__(self, message, **details):
        self.message = message
        self.details = details
        super().__init__(_english(message))

    def __str__(self) -> str:
        return render(self.message)


class InvalidEntry(LedgerError, ValueError):
    """The lines do not make an entry: fewer than two, a zero line, wrong currency."""

    reason = "invalid_entry"


class UnbalancedEntry(InvalidEntry):
    """The lines do not sum to zero in some currency."""

    reason = "unbalanced_entry"


class UnknownAccount(LedgerError, LookupError):
    """A line names an account the tenant's books do not have."""

    reason = "unknown_account"


class InsufficientFunds(LedgerError):
    """The entry would take an account below zero, counting what pending entries already reserve."""

    reason = "insufficient_funds"


class IdempotencyConflict(LedgerError):
    """The idempotency key was already used for a different body."""

    reason = "idempotency_conflict"


class InvalidTransition(LedgerError):
    """A state change the transition table does not allow."""

    reason = "invalid_transition"


class AlreadyReversed(InvalidTransition):
    """The entry already has a reversal (under another key)."""

    reason = "already_reversed"


def zero_line() -> InvalidEntry:
    return InvalidEntry(_l("A journal line of zero is not allowed."))


def too_few_lines() -> InvalidEntry:
    return InvalidEntry(_l("A journal entry needs at least two lines."))


def unbalanced(currency: str, off_by: int) -> UnbalancedEntry:
    return UnbalancedEntry(
        _l("The lines do not sum to zero in %(currency)s (off by %(amount)s).",
           currency=currency, amount=major(off_by, currency)),
        currency=currency, off_by=off_by,
    )


def currency_mismatch(code: str, line_currency: str, account_currency: str) -> InvalidEntry:
    return InvalidEntry(
        _l("A line in %(line)s cannot go to account %(account)s, which is kept in %(expected)s.",
           line=line_currency, account=code, expected=account_currency),
        account=code,
    )


def unknown_account(codes) -> UnknownAccount:
    codes = sorted(codes)
    return UnknownAccount(_l("No ledger account %(code)s.", code=", ".join(codes)), codes=codes)


def insufficient_funds(code: str, spendable: int, needed: int, currency: str) -> InsufficientFunds:
    return InsufficientFunds(
        _l("Insufficient funds in %(account)s: %(available)s available, %(needed)s needed.",
           account=code, available=major(spendable, currency), needed=major(needed, currency)),
        account=code, available=spendable, needed=needed,
    )


def idempotency_conflict(key: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        _l("The key %(key)s was already used for a different request.", key=key), key=key
    )


def invalid_transition(entry_id, current: str, wanted: str) -> InvalidTransition:
    return InvalidTransition(
        _l("Journal entry %(id)s cannot go from %(current)s to %(wanted)s.",
           id=entry_id, current=current, wanted=wanted),
        id=entry_id, current=current, wanted=wanted,
    )


def not_reversible(entry_id: int, state: str) -> InvalidTransition:
    return InvalidTransition(
        _l("Only a posted entry can be reversed; entry %(id)s is %(state)s.", id=entry_id, state=state),
        id=entry_id, current=state, wanted="reversed",
    )


def already_reversed(entry_id: int) -> AlreadyReversed:
    return AlreadyReversed(_l("Entry %(id)s has already been reversed.", id=entry_id), id=entry_id)
