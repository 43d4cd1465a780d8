"""Bank card binding: the card money is withdrawn to, and the opening of the custody sub-account.

A verified user binds one card (Luhn-checked, not bound to another account).
Binding asks the custody orchestration (``core.custody.service.open_account``)
to open the user's sub-account; the card stays ``pending`` until the bank
confirms (``active``) or refuses (``failed``, with the bank's reason). Nothing
here calls a bank provider directly.
"""
from __future__ import annotations

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.accounts import crypto
from core.accounts.identity import InvalidIdentity, validate_bank_card
from core.accounts.kyc import is_verified
from core.accounts.models import BankCard, User
from core.accounts.policy import AccountRefused
from core.audit import audit
from core.extensions import db

log = logging.getLogger("lendkit.accounts")


def cards_of(user: User) -> list[BankCard]:
    found = list(db.session.scalars(select(BankCard).where(BankCard.user_id == user.id).order_by(BankCard.id)))
    return [refresh_card(card) for card in found]


def bind_card(tenant, user: User, *, number: str, bank_name: str = "") -> BankCard:
    if not is_verified(user):
        raise AccountRefused(None, "kyc_required", _l("Please verify your identity before binding a bank card."), status=409)
    try:
        digits = validate_bank_card(number)
    except InvalidIdentity as exc:
        raise AccountRefused("card_number", exc.code, exc.message) from None
    bank_name = " ".join((bank_name or "").split())
    if len(bank_name) > 100:
        raise AccountRefused("bank_name", "bank_name", _l("The bank's name is too long."))
    index = crypto.blind_index(tenant, "bank_card", digits)
    existing = db.session.scalar(select(BankCard).where(BankCard.card_index == index))
    if existing is not None and existing.user_id == user.id and existing.status == "failed":
        db.session.delete(existing)  # the bank refused it before; binding it again is a new try
        db.session.flush()
        existing = None
    if existing is not None:
        if existing.user_id == user.id:
            raise AccountRefused("card_number", "card_bound", _l("This card is already bound to your account."), status=409)
        raise AccountRefused("card_number", "card_taken",
                             _l("This card is bound to another account. Please contact customer service."), status=409)
    if any(card.status in ("pending", "active") for card in cards_of(user)):
        raise AccountRefused("card_number", "one_card", _l("You already have a bound card."), status=409)
    card = BankCard(user_id=user.id, card_sealed=crypto.seal(tenant, "bank_card.number", digits),
                    card_index=index, bank_name=bank_name, status="pending")
    db.session.add(card)
    db.session.flush()
    audit("bank_card.bound", actor=user, target=card, details={"status": "pending"})
    db.session.commit()
    request_custody_account(tenant, user, card)
    return card


def custody_key(card: BankCard) -> str:
    """The idempotency key of the instruction opening the sub-account for ``card``."""
    return f"open_account:bank_card:{card.id}"


def _custody_service():
    """``core.custody.service`` once the custody orchestration is installed and migrated, else None.

    The database is asked first: importing the module registers its tables,
    which must not happen in a deployment that has not migrated them.
    """
    from importlib.util import find_spec

    from flask import current_app
    from sqlalchemy import inspect

    cache = current_app.extensions.setdefault("lendkit_custody_ready", {})
    url = str(db.engine.url)
    if url not in cache:
        cache[url] = find_spec("core.custody.service") is not None and inspect(db.engine).has_table("custody_instruction")
    if not cache[url]:
        return None
    from core.custody import service

    return service


def request_custody_account(tenant, user: User, card: BankCard) -> None:
    """Ask the custody orchestration to open ``user``'s sub-account; the card follows its answer.

    The instruction is idempotent by :func:`custody_key`: asking again never
    opens a second account. While the bank has not answered, the card stays
    ``pending`` (:func:`refresh_card` picks the answer up later).
    """
    from core.accounts.kyc import latest_application

    service = _custody_service()
    if service is None:
        log.info("custody orchestration not installed; card %s stays pending", card.id)
        return
    application = latest_application(user)
    identity = application.id_number if application.kind == "person" else application.uscc
    from core.custody.provider import CustodyError

    try:
        instruction = service.open_account(user.id, name=application.name, id_number=identity,
                                           card_number=card.number, key=custody_key(card))
    except CustodyError as exc:  # the bank did not take it: the card stays pending, the instruction is retried
        log.warning("open_account for card %s not accepted: %s", card.id, type(exc).__name__)
        return
    _follow(card, instruction)
    db.session.commit()


def refresh_card(card: BankCard) -> BankCard:
    """Bring a pending card up to date with its custody instruction (commits when it changed)."""
    if card.status != "pending" or _custody_service() is None:
        return card
    from core.custody.instructions import instruction_by_key

    instruction = instruction_by_key(custody_key(card))
    if instruction is not None and _follow(card, instruction):
        db.session.commit()
    return card


def _follow(card: BankCard, instruction) -> bool:
    if instruction.state == "confirmed":
        card_opened(card)
        return True
    if instruction.state == "refused":
        card_refused(card, instruction.reason or "refused")
        return True
    return False


def card_opened(card: BankCard) -> None:
    """The custody bank opened the sub-account: the card is active."""
    card.status = "active"
    card.failure_reason = None
    audit("bank_card.active", actor="system", target=card)


def card_refused(card: BankCard, reason: str) -> None:
    """The custody bank refused: the card failed; ``reason`` is the bank's code, shown to the user."""
    card.status = "failed"
    card.failure_reason = reason[:500]
    audit("bank_card.failed", actor="system", target=card, details={"reason": reason[:200]})
