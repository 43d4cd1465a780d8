"""SMS notices of money movements, sent from the ``money_moved`` hook.

For each user whose custody balances an entry changed, one text in the user's
locale says what happened (received, paid out, frozen, released), how much,
why (the entry's kind) and when. Line amounts are signed debit-positive
(:mod:`core.ledger.models`); an account's ``normal_side`` says which sign
raises its balance. A failing gateway is logged, never raised: the money has
already moved.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timezone
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from core.money import from_minor
from core.sms import SmsError

log = logging.getLogger("lendkit.sms")

DIRECTIONS = {
    "received": _l("Received"),
    "paid": _l("Paid out"),
    "frozen": _l("Froze"),
    "released": _l("Released"),
}
KINDS = {
    "deposit": _l("deposit"),
    "withdraw": _l("withdrawal"),
    "freeze": _l("bid frozen"),
    "unfreeze": _l("frozen funds released"),
    "transfer": _l("transfer"),
    "batch_transfer": _l("loan settlement"),
    "reversal": _l("correction"),
}


def balance_changes(entry) -> dict[int, dict]:
    """``{user id: {"available": Δ, "frozen": Δ, "currency": code}}`` — Δ > 0 raises the user's balance."""
    changes: dict[int, dict] = defaultdict(lambda: {"available": 0, "frozen": 0, "currency": None})
    for line in entry.lines:
        account = line.account
        owner = getattr(account, "owner_user_id", None)
        if owner is None:
            continue
        bucket = getattr(account, "custody_bucket", None) or "available"
        sign = 1 if getattr(account, "normal_side", "credit") == "debit" else -1
        change = changes[owner]
        change[bucket if bucket in ("available", "frozen") else "available"] += line.amount * sign
        change["currency"] = line.currency
    return {owner: change for owner, change in changes.items() if change["available"] or change["frozen"]}


def describe(change: dict) -> tuple[str, int]:
    """``(direction, amount)`` of one user's change."""
    available, frozen = change["available"], change["frozen"]
    if available > 0:
        return ("released" if frozen < 0 else "received"), available
    if available < 0:
        return ("frozen" if frozen > 0 else "paid"), (frozen if frozen > 0 else -available)
    return ("frozen", frozen) if frozen > 0 else ("paid", -frozen)


def notify_money_moved(tenant, entry) -> int:
    """Text every user the entry moved money for; returns how many texts went out."""
    from sqlalchemy import select

    from core.accounts.models import User
    from core.accounts.sms import render, send_text
    from core.extensions import db
    from core.lending.notices import told_by_lending

    if told_by_lending(entry):  # a lending notice tells its people (a collection, a bid's freeze or release)
        return 0
    sent = 0
    changes = balance_changes(entry)
    # every owner in one query (a settlement entry names hundreds); held while texting
    users = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(list(changes))))} \
        if changes else {}
    for user_id, change in changes.items():
        user = users.get(user_id)
        if user is None:
            continue
        direction, amount = describe(change)
        locale = user.locale or tenant.default_locale
        currency = change["currency"] or tenant.currency
        moment = getattr(entry, "posted_at", None) or getattr(entry, "created_at", None)
        zone = ZoneInfo(tenant.config.get("timezone") or "UTC")
        with force_locale(locale):
            values = {
                "direction": str(DIRECTIONS[direction]),
                "what": str(KINDS.get(entry.kind, entry.kind)),
                "amount": format_currency(from_minor(amount, currency), currency, locale=locale),
                "time": format_datetime((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(zone),
                                        "MM-dd HH:mm", locale=locale) if moment else "",
                "account": user.masked_mobile,
            }
        text = render(tenant, "money_moved", locale, **values)
        try:
            send_text(tenant, user.mobile, text)
            sent += 1
        except SmsError:
            log.warning("money notice for entry %s to user %s not sent", getattr(entry, "id", "?"), user_id)
    return sent
