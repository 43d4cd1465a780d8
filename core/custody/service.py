"""Money operations through the custody bank: what the loan lifecycle calls.

Each function records one custody instruction with its pending ledger entry,
sends it to the bound tenant's bank and returns the
:class:`~core.custody.models.CustodyInstruction` (look at ``.state``:
``confirmed``, ``refused``, ``sent`` = the bank will answer later,
``unknown`` = resolve by query, ``created`` = the bank did not accept it yet).
Every call takes an idempotency ``key``: calling again with the same key and
the same arguments returns the same instruction (resending it only while it
is still ``created``); with other arguments it raises IdempotencyConflict.

A *party* is a user id (``int``) or a platform role (``"fee_income"``,
``"risk_reserve"``, ``"marketing"``). Ledger lines per operation (Dr = +)::

    deposit          Dr platform:bank_clearing   Cr <party> available
    withdraw         Dr <party> available        Cr platform:bank_clearing
    freeze           Dr user available           Cr user frozen
    unfreeze         Dr user frozen              Cr user available
    transfer         Dr source available|frozen  Cr target available (amount − fees)
                                                 Cr platform:fee_income, platform:risk_reserve… (fees)
    batch_transfer   the same per leg, netted per account, in ONE entry
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Union

from flask_babel import lazy_gettext as _l

from core.custody.instructions import create, current_tenant, send
from core.custody.models import CustodyInstruction
from core.custody.provider import Instruction, TransferItem
from core.ledger.chart import user_custody_account
from core.ledger.journal import check_amount
from core.ledger.models import PLATFORM_ACCOUNTS, platform_account_code, user_account_code

__all__ = [
    "Leg",
    "open_account",
    "open_platform",
    "deposit",
    "withdraw",
    "freeze",
    "unfreeze",
    "transfer",
    "batch_transfer",
]

Party = Union[int, str]
CLEARING = platform_account_code("bank_clearing")


@dataclass(frozen=True)
class Leg:
    """One movement of a batch: ``amount`` from ``source`` (its frozen funds if ``from_frozen``) to ``target``."""

    source: Party
    target: Party
    amount: int
    from_frozen: bool = False


def _is_user(party: Party) -> bool:
    return isinstance(party, int) and not isinstance(party, bool)


def _user_custody_names(user_ids) -> dict[int, str]:
    """Each user's sub-account at the bank: the one their ledger accounts mirror (a user imported from a
    previous system keeps the number the bank gave them), else the name ``open_account`` gives (``U42``)."""
    from sqlalchemy import select

    from core.extensions import db
    from core.ledger.models import LedgerAccount

    ids = sorted({int(i) for i in user_ids})
    codes = {user_account_code(i, "available"): i for i in ids}
    found = dict(db.session.execute(
        select(LedgerAccount.code, LedgerAccount.custody_account).where(LedgerAccount.code.in_(list(codes)))
    ).all()) if ids else {}
    return {i: found.get(code) or user_custody_account(i) for code, i in codes.items()}


def _custody_name(party: Party, names: Mapping[int, str] | None = None) -> str:
    if _is_user(party):
        if names is not None and party in names:
            return names[party]
        return _user_custody_names([party])[party]
    spec = PLATFORM_ACCOUNTS.get(party) if isinstance(party, str) else None
    if spec is None or spec["custody"] is None:
        raise ValueError(f"a party is a user id or one of {sorted(r for r, s in PLATFORM_ACCOUNTS.items() if s['custody'])}, "
                         f"not {party!r}")
    return spec["custody"]


def _code(party: Party, bucket: str = "available") -> str:
    if _is_user(party):
        return user_account_code(party, bucket)
    _custody_name(party)
    if bucket != "available":
        raise ValueError(f"platform account {party!r} has no {bucket} funds")
    return platform_account_code(party)


def _owner(party: Party) -> str:
    return f"user:{party}" if _is_user(party) else platform_account_code(party)


def _positive(amount) -> int:
    check_amount(amount)
    if amount <= 0:
        raise ValueError("amount must be positive")
    return amount


#: Why the bank refused an instruction, as a user is told (see :func:`refusal_text`).
REFUSAL_TEXTS = {
    "insufficient_funds": _l("there is not enough money for it at the bank"),
    "invalid_card": _l("the bound bank card was not accepted"),
    "duplicate_account": _l("a custody account already exists for this person"),
    "unknown_account": _l("the bank does not know the custody account"),
    "currency_mismatch": _l("the currency does not match the account"),
}


def refusal_text(reason: str | None) -> str:
    """A bank's refusal reason (a code) in the reader's language; an unknown one in general words."""
    text = REFUSAL_TEXTS.get(reason or "")
    return str(text if text is not None else _l("the bank did not accept it"))


def _run(kind, build, lines, *, key, memo="", owner=None) -> CustodyInstruction:
    instruction, created = create(build, kind=kind, key=key, lines=lines, memo=memo, owner=owner)
    return send(instruction) if instruction.state == "created" else instruction


def _currency() -> str:
    return current_tenant().currency


# --------------------------------------------------------------------- operations


def open_account(owner: Party, *, name: str, id_number: str, card_number: str, key: str) -> CustodyInstruction:
    """Open ``owner``'s sub-account at the bank; when confirmed, their ledger accounts are opened."""
    account = _custody_name(owner)
    currency = _currency()
    details = {"name": name, "id_number": id_number, "card_number": card_number}

    def build(request_no):
        return Instruction(request_no, "open_account", account, 0, currency, details=details)

    return _run("open_account", build, None, key=key, owner=_owner(owner))


def deposit(party: Party, amount: int, *, key: str, memo: str = "") -> CustodyInstruction:
    """Money in from the party's bound card: Dr bank_clearing / Cr party available."""
    _positive(amount)
    account, currency = _custody_name(party), _currency()
    lines = [(CLEARING, amount), (_code(party), -amount)]
    return _run("deposit", lambda no: Instruction(no, "deposit", account, amount, currency), lines,
                key=key, memo=memo)


def withdraw(party: Party, amount: int, *, key: str, memo: str = "") -> CustodyInstruction:
    """Money out to the party's bound card: Dr party available / Cr bank_clearing (reserved while pending)."""
    _positive(amount)
    account, currency = _custody_name(party), _currency()
    lines = [(_code(party), amount), (CLEARING, -amount)]
    return _run("withdraw", lambda no: Instruction(no, "withdraw", account, amount, currency), lines,
                key=key, memo=memo)


def freeze(user_id: int, amount: int, *, key: str, memo: str = "") -> CustodyInstruction:
    """Available → frozen (a bid): Dr user available / Cr user frozen."""
    _positive(amount)
    if not _is_user(user_id):
        raise ValueError("only a user's funds can be frozen")
    account, currency = _custody_name(user_id), _currency()
    lines = [(_code(user_id), amount), (_code(user_id, "frozen"), -amount)]
    return _run("freeze", lambda no: Instruction(no, "freeze", account, amount, currency), lines,
                key=key, memo=memo)


def unfreeze(user_id: int, amount: int, *, key: str, memo: str = "") -> CustodyInstruction:
    """Frozen → available (a failed listing): Dr user frozen / Cr user available."""
    _positive(amount)
    if not _is_user(user_id):
        raise ValueError("only a user's funds can be unfrozen")
    account, currency = _custody_name(user_id), _currency()
    lines = [(_code(user_id, "frozen"), amount), (_code(user_id), -amount)]
    return _run("unfreeze", lambda no: Instruction(no, "unfreeze", account, amount, currency), lines,
                key=key, memo=memo)


def transfer(source: Party, target: Party, amount: int, *, key: str, from_frozen: bool = False,
             fees: Mapping[str, int] | None = None, memo: str = "") -> CustodyInstruction:
    """Move ``amount`` out of ``source`` (its frozen funds if ``from_frozen``); ``target`` gets it minus ``fees``.

    ``fees`` maps platform roles to amounts (``{"fee_income": 300, "risk_reserve": 100}``), all
    taken in the same entry and the same bank instruction (a batch when there are fees).
    """
    _positive(amount)
    legs = []
    net = amount
    for role, fee in (fees or {}).items():
        check_amount(fee, f"fee {role}")
        if fee < 0:
            raise ValueError("fees cannot be negative")
        if fee:
            legs.append(Leg(source, role, fee, from_frozen))
            net -= fee
    if net <= 0:
        raise ValueError("the fees take the whole amount")
    legs.insert(0, Leg(source, target, net, from_frozen))
    if len(legs) == 1:
        src, dst, currency = _custody_name(source), _custody_name(target), _currency()
        lines = _lines(legs)

        def build(no):
            return Instruction(no, "transfer", src, amount, currency, counterparty=dst, from_frozen=from_frozen)

        return _run("transfer", build, lines, key=key, memo=memo)
    return batch_transfer(legs, key=key, memo=memo)


def batch_transfer(legs: Iterable[Leg], *, key: str, memo: str = "") -> CustodyInstruction:
    """Many movements as ONE bank instruction and ONE ledger entry (a disbursement, a repayment split)."""
    legs = [leg if isinstance(leg, Leg) else Leg(*leg) for leg in legs]
    if not legs:
        raise ValueError("a batch needs at least one leg")
    for leg in legs:
        _positive(leg.amount)
    currency = _currency()
    names = _user_custody_names(p for leg in legs for p in (leg.source, leg.target) if _is_user(p))
    items = tuple(TransferItem(_custody_name(leg.source, names), _custody_name(leg.target, names), leg.amount,
                               leg.from_frozen) for leg in legs)
    total = sum(leg.amount for leg in legs)
    lines = _lines(legs)

    def build(no):
        return Instruction(no, "batch_transfer", None, total, currency, items=items)

    return _run("batch_transfer", build, lines, key=key, memo=memo)


def _lines(legs: list[Leg]) -> list[tuple[str, int]]:
    """Net ledger lines of the legs: one per account, zero nets dropped, in first-seen order."""
    net: dict[str, int] = {}
    for leg in legs:
        source = _code(leg.source, "frozen" if leg.from_frozen else "available")
        target = _code(leg.target)
        if source == target:
            raise ValueError("a leg's source and target must differ")
        net[source] = net.get(source, 0) + leg.amount
        net[target] = net.get(target, 0) - leg.amount
    return [(code, amount) for code, amount in net.items() if amount]


def open_platform(*, name: str, registration_number: str, card_number: str, key_prefix: str = "platform") -> list[CustodyInstruction]:
    """Open the platform's own sub-accounts (fee income, risk reserve, marketing) at the bank.

    A tenant does this once before any money moves: it also opens the
    platform's ledger accounts (``platform:bank_clearing`` among them) when the
    bank confirms. Idempotent: running it again returns the same instructions.
    """
    roles = [role for role, spec in PLATFORM_ACCOUNTS.items() if spec["custody"]]
    return [open_account(role, name=name, id_number=registration_number, card_number=card_number, key=f"{key_prefix}:{role}")
            for role in roles]
