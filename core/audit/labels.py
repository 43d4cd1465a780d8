"""The audit log in words for the staff page: a label per known event, the actor as a masked person,
and each record's details as key/value pairs with amounts as money.

A record stores codes (``loan.review.approved``, ``user:16``, canonical JSON
with amounts in minor units) so that its hash never depends on a language;
this module only reads them. An event with no label shows its code.
"""
from __future__ import annotations

import json
import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

EVENT_LABELS = {
    "account.locked": _l("Account locked after failed sign-ins"),
    "account.unlocked": _l("Account unlocked"),
    "bank_card.active": _l("Bank card activated"),
    "bank_card.bound": _l("Bank card bound"),
    "bank_card.failed": _l("Bank card refused"),
    "base_data.imported": _l("Base data imported"),
    "claim.offered": _l("Claim offered for sale"),
    "claim.offer_withdrawn": _l("Claim offer withdrawn"),
    "claim.transferred": _l("Claim transferred"),
    "delivery.demo_cleared": _l("Demo data cleared"),
    "kyc.approved": _l("Identity verification approved"),
    "kyc.bureau_refused": _l("Identity refused by the credit bureau"),
    "kyc.bureau_unavailable": _l("Credit bureau unavailable for identity check"),
    "kyc.rejected": _l("Identity verification rejected"),
    "kyc.submitted": _l("Identity verification submitted"),
    "loan.collection_note": _l("Collection note recorded"),
    "loan.created": _l("Loan application started"),
    "loan.submitted": _l("Loan application submitted"),
    "loan.review.approved": _l("Loan review: approved"),
    "loan.review.rejected": _l("Loan review: rejected"),
    "login.failed": _l("Sign-in failed"),
    "login.refused_disabled": _l("Sign-in refused: account disabled"),
    "login.refused_locked": _l("Sign-in refused: account locked"),
    "login.succeeded": _l("Signed in"),
    "logout": _l("Signed out"),
    "mobile.changed": _l("Mobile number changed"),
    "password.changed": _l("Password changed"),
    "password.reset": _l("Password reset"),
    "pii.viewed": _l("Personal data viewed whole"),
    "reconciliation.run": _l("Reconciliation run"),
    "role.granted": _l("Role granted"),
    "role.revoked": _l("Role revoked"),
    "roles.chosen": _l("Roles chosen at registration"),
    "session.idle_expired": _l("Session ended after being idle"),
    "staff.created": _l("Staff member created"),
    "staff.totp_enrolled": _l("Two-factor sign-in set up"),
    "staff.totp_reset": _l("Two-factor sign-in reset"),
    "transaction_password.failed": _l("Wrong transaction password"),
    "transaction_password.locked": _l("Transaction password locked"),
    "transaction_password.set": _l("Transaction password set"),
    "user.registered": _l("User registered"),
    "users.exported": _l("User list exported (masked)"),
}

#: Actors that are not a user.
ACTOR_LABELS = {
    "anonymous": _l("Visitor (not signed in)"),
    "cli": _l("Command line"),
    "system": _l("System"),
    "daily": _l("Daily run"),
}

KEY_LABELS = {
    "amount": _l("Amount"),
    "day": _l("Day"),
    "differences": _l("Differences"),
    "failures": _l("Failures"),
    "field": _l("Field"),
    "grade": _l("Grade"),
    "kind": _l("Kind"),
    "loan": _l("Loan"),
    "masked": _l("Masked"),
    "minutes": _l("Minutes"),
    "new_claim": _l("New claim"),
    "price": _l("Price"),
    "product": _l("Product"),
    "rate": _l("Rate"),
    "reason": _l("Reason"),
    "role": _l("Role"),
    "roles": _l("Roles"),
    "second_factor": _l("Second factor"),
    "seller": _l("Seller"),
    "staff": _l("Staff"),
    "status": _l("Status"),
    "step": _l("Step"),
    "user": _l("User"),
}

KIND_LABELS = {"person": _l("Personal"), "enterprise": _l("Enterprise")}


def _coded(key: str, value: str, event: str) -> str | None:
    """A code stored in the details, in words, when this key holds a known code."""
    if key in ("role", "roles"):
        from core.accounts.roles import role_label

        return role_label(value)
    if key == "kind" and value in KIND_LABELS:
        return str(KIND_LABELS[value])
    if key == "step" and event.startswith("loan.review."):
        from core.lending.views import REVIEW_STEP_LABELS

        return str(REVIEW_STEP_LABELS.get(value, value))
    if key == "status" and event == "loan.collection_note":
        from core.lending.views import collection_label

        return collection_label(value)
    return None


#: Keys whose integer values are money in minor units.
_AMOUNT_KEY = re.compile(r"(^|_)(amount|price|principal|interest|fee|penalty|total|balance|funds)s?($|_)")

_USER = re.compile(r"^user:(\d+)$")


def event_label(event: str) -> str:
    return str(EVENT_LABELS.get(event, event))


def is_amount_key(key: str) -> bool:
    return bool(_AMOUNT_KEY.search(key))


def _value(key: str, value, currency: str, event: str = "") -> str:
    from core.i18n import money

    if isinstance(value, str):
        coded = _coded(key, value, event)
        if coded is not None:
            return coded
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, int) and is_amount_key(key):
        return money(value, currency)
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_value(key, v, currency, event) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(k, v, currency, event)}" for k, v in value.items())
    return str(value)


def details_pairs(details: str, currency: str, event: str = "") -> list[tuple[str, str]]:
    """``{"amount":25000000,"reason":"ok"}`` → ``[("Amount", "¥250,000.00"), ("Reason", "ok")]``."""
    try:
        data = json.loads(details or "{}")
    except ValueError:
        return [("", details)]
    if not isinstance(data, dict):
        return [("", _value("", data, currency))]
    return [(str(KEY_LABELS.get(key, key.replace("_", " "))), _value(key, value, currency, event))
            for key, value in data.items()]


def user_ids(texts) -> set[int]:
    """The user ids named ``user:N`` among ``texts`` (actors and targets)."""
    found = set()
    for text in texts:
        match = _USER.match(text or "")
        if match:
            found.add(int(match.group(1)))
    return found


def person(text: str, users: dict) -> str:
    """``user:16`` → its masked mobile (or "User 16" when the account is gone); other actors in words."""
    match = _USER.match(text or "")
    if match:
        user = users.get(int(match.group(1)))
        if user is None:
            return _("User %(id)s", id=match.group(1))
        return user.masked_mobile
    if text in ACTOR_LABELS:
        return str(ACTOR_LABELS[text])
    if text.startswith("operator:"):
        return _("Vendor operator %(login)s", login=text.split(":", 1)[1])
    return text
