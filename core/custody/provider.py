"""The custody provider contract: what a bank plugin implements and what the core calls.

Under P2P rules the platform never holds users' cash. A custody bank keeps one
sub-account per user with an *available* and a *frozen* balance, and moves money
only when the platform instructs it to. Every instruction carries a
platform-chosen ``request_no``; the bank treats it idempotently.

Two-phase rule for callers: an instruction is *pending* until the bank answers
``confirmed`` or ``refused``. If the outcome is unknown (:class:`BankTimeout`),
call :meth:`CustodyProvider.query` with the same ``request_no`` later; never send
a second instruction for the same intent under a new ``request_no``.

Amounts are ``int`` in minor units (fen, cents); floats are rejected.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

import marshmallow

__all__ = [
    "INSTRUCTION_KINDS",
    "MOVEMENT_KINDS",
    "STATUSES",
    "REFUSAL_REASONS",
    "TransferItem",
    "Instruction",
    "BankResult",
    "Balance",
    "StatementLine",
    "Statement",
    "CustodyError",
    "BankTimeout",
    "BankUnavailable",
    "BadSignature",
    "CustodyProvider",
]

#: Every instruction kind a provider must support.
INSTRUCTION_KINDS = (
    "open_account",
    "deposit",
    "withdraw",
    "freeze",
    "unfreeze",
    "transfer",
    "batch_transfer",
)
#: Kinds that move money and therefore appear as statement lines.
MOVEMENT_KINDS = ("deposit", "withdraw", "freeze", "unfreeze", "transfer", "batch_transfer")
#: ``BankResult.status`` values.
STATUSES = ("confirmed", "refused", "pending")
#: Refusal reasons a provider should use (others are allowed, documented by the provider).
REFUSAL_REASONS = (
    "insufficient_funds",   # not enough available (or frozen, for from_frozen / unfreeze)
    "unknown_account",      # an account named by the instruction does not exist
    "duplicate_account",    # open_account for an existing account
    "invalid_card",         # open_account with a card number the bank does not accept
    "currency_mismatch",    # the instruction's currency is not the account's currency
    "request_no_reused",    # same request_no, different body (the first outcome stands)
    "unknown_request",      # query(): the bank never saw this request_no
)


def _is_amount(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class TransferItem:
    """One leg of a ``batch_transfer``: move ``amount`` from ``source`` to ``target``'s available funds."""

    source: str
    target: str
    amount: int
    from_frozen: bool = False

    def __post_init__(self) -> None:
        if not self.source or not self.target or not isinstance(self.source, str) or not isinstance(self.target, str):
            raise ValueError("transfer item needs a source and a target account")
        if self.source == self.target:
            raise ValueError("transfer item source and target must differ")
        if not _is_amount(self.amount) or self.amount <= 0:
            raise ValueError("transfer item amount must be a positive int (minor units)")
        if not isinstance(self.from_frozen, bool):
            raise ValueError("from_frozen must be a bool")

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return {"source": self.source, "target": self.target, "amount": self.amount, "from_frozen": self.from_frozen}

    @classmethod
    def from_dict(cls, data: Mapping) -> "TransferItem":
        """Inverse of :meth:`to_dict`."""
        return cls(data["source"], data["target"], data["amount"], bool(data.get("from_frozen", False)))


@dataclass(frozen=True)
class Instruction:
    """An order to the custody bank; ``request_no`` is its idempotency key.

    ``account`` is the acted-on sub-account (the source for ``transfer``; None for
    ``batch_transfer``), ``counterparty`` the target of a ``transfer``,
    ``from_frozen`` takes a transfer from the source's frozen funds, ``items`` are
    the legs of a ``batch_transfer`` (``amount`` must equal their sum) and
    ``details`` carries ``{"name", "id_number", "card_number"}`` for ``open_account``.
    Malformed instructions raise ``ValueError`` at construction.
    """

    request_no: str
    kind: str
    account: str | None
    amount: int
    currency: str
    counterparty: str | None = None
    from_frozen: bool = False
    items: tuple[TransferItem, ...] = ()
    details: Mapping = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.request_no, str) or not self.request_no or len(self.request_no) > 64:
            raise ValueError("request_no must be a non-empty string of at most 64 characters")
        if self.kind not in INSTRUCTION_KINDS:
            raise ValueError(f"unknown instruction kind {self.kind!r}")
        if not _is_amount(self.amount):
            raise ValueError("amount must be an int in minor units")
        if not isinstance(self.currency, str) or not self.currency:
            raise ValueError("currency is required")
        if not isinstance(self.from_frozen, bool):
            raise ValueError("from_frozen must be a bool")
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details or {})))
        if self.kind == "batch_transfer":
            if self.account is not None or self.counterparty is not None:
                raise ValueError("batch_transfer names its accounts in items, not account/counterparty")
            if not self.items or not all(isinstance(i, TransferItem) for i in self.items):
                raise ValueError("batch_transfer needs at least one TransferItem")
            if self.amount != sum(i.amount for i in self.items):
                raise ValueError("batch_transfer amount must equal the sum of its items")
            return
        if self.items:
            raise ValueError(f"{self.kind} takes no items")
        if not isinstance(self.account, str) or not self.account:
            raise ValueError(f"{self.kind} needs an account")
        if self.kind == "open_account":
            if self.amount != 0:
                raise ValueError("open_account amount must be 0")
            for key in ("name", "id_number", "card_number"):
                if not isinstance(self.details.get(key), str) or not self.details.get(key):
                    raise ValueError(f"open_account details need {key!r}")
            return
        if self.amount <= 0:
            raise ValueError(f"{self.kind} amount must be positive")
        if self.kind == "transfer":
            if not isinstance(self.counterparty, str) or not self.counterparty:
                raise ValueError("transfer needs a counterparty")
            if self.counterparty == self.account:
                raise ValueError("transfer counterparty must differ from account")
        elif self.counterparty is not None:
            raise ValueError(f"{self.kind} takes no counterparty")
        if self.from_frozen and self.kind != "transfer":
            raise ValueError("from_frozen applies to transfer only (batch items carry their own)")

    def to_dict(self) -> dict:
        """Plain JSON-able form (the wire format of the HTTP protocol)."""
        return {
            "request_no": self.request_no,
            "kind": self.kind,
            "account": self.account,
            "amount": self.amount,
            "currency": self.currency,
            "counterparty": self.counterparty,
            "from_frozen": self.from_frozen,
            "items": [i.to_dict() for i in self.items],
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Instruction":
        """Inverse of :meth:`to_dict`; raises ValueError/KeyError/TypeError on malformed data."""
        return cls(
            request_no=data["request_no"],
            kind=data["kind"],
            account=data.get("account"),
            amount=data["amount"],
            currency=data["currency"],
            counterparty=data.get("counterparty"),
            from_frozen=data.get("from_frozen", False),
            items=tuple(TransferItem.from_dict(i) for i in data.get("items") or ()),
            details=data.get("details") or {},
        )

    def fingerprint(self) -> str:
        """sha256 of the canonical body; two submissions are "the same" iff fingerprints match."""
        return hashlib.sha256(_canonical_json(self.to_dict()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BankResult:
    """The bank's answer for one ``request_no``: ``confirmed``, ``refused`` (with ``reason``) or ``pending``.

    ``raw`` is the bank's full answer, kept for audit; it is not part of equality.
    """

    request_no: str
    status: str
    bank_ref: str | None = None
    reason: str | None = None
    raw: Mapping = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        object.__setattr__(self, "raw", MappingProxyType(dict(self.raw or {})))

    @property
    def final(self) -> bool:
        """True once the bank has decided (confirmed or refused)."""
        return self.status != "pending"

    def to_dict(self) -> dict:
        """Plain JSON-able form without ``raw``."""
        return {"request_no": self.request_no, "status": self.status, "bank_ref": self.bank_ref, "reason": self.reason}


@dataclass(frozen=True)
class Balance:
    """A sub-account's balances at the bank, in minor units."""

    account: str
    available: int
    frozen: int

    @property
    def total(self) -> int:
        """available + frozen."""
        return self.available + self.frozen


@dataclass(frozen=True)
class AccountHolder:
    """Whose a sub-account is, as far as the bank tells: the last four characters of the holder's
    identity number (or credit code) and of the bound card."""

    account: str
    id_last4: str
    card_last4: str


@dataclass(frozen=True)
class StatementLine:
    """One confirmed movement (a ``batch_transfer`` gives one line per item, all with its request_no)."""

    request_no: str
    kind: str
    account: str
    counterparty: str | None
    amount: int
    currency: str
    from_frozen: bool
    confirmed_at: datetime

    def effects(self) -> tuple[tuple[str, int, int], ...]:
        """``(account, delta_available, delta_frozen)`` for every account this line changes."""
        a = self.amount
        if self.kind == "deposit":
            return ((self.account, a, 0),)
        if self.kind == "withdraw":
            return ((self.account, -a, 0),)
        if self.kind == "freeze":
            return ((self.account, -a, a),)
        if self.kind == "unfreeze":
            return ((self.account, a, -a),)
        if self.kind in ("transfer", "batch_transfer"):
            source = (self.account, 0, -a) if self.from_frozen else (self.account, -a, 0)
            return (source, (self.counterparty, a, 0))
        raise ValueError(f"{self.kind} is not a movement")


@dataclass(frozen=True)
class Statement:
    """A day's confirmed movements in one currency plus every account's closing balance that day.

    Opening balances are the previous day's closing balances (zero for accounts
    opened that day); opening + the day's line effects = closing.
    """

    date: date
    currency: str
    lines: tuple[StatementLine, ...]
    closing_balances: tuple[Balance, ...]

    def closing(self, account: str) -> Balance | None:
        """The closing balance of ``account``, or None if not in this statement."""
        for b in self.closing_balances:
            if b.account == account:
                return b
        return None


class CustodyError(Exception):
    """Base of custody failures; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str = "custody_error", message: str | None = None):
        super().__init__(message or reason)
        self.reason = reason


class BankTimeout(CustodyError):
    """The outcome is unknown (timeout, error after sending): query the same request_no later."""


class BankUnavailable(CustodyError):
    """The instruction was not accepted (not sent, refused connection, "not accepted" 5xx): retrying the same request_no is safe."""


class BadSignature(CustodyError):
    """A response or callback failed signature verification; treat its content as unknown."""


class CustodyProvider:
    """Base class of custody bank plugins; one instance serves one tenant.

    Subclasses set ``name`` (the key used in tenant.yaml), ``title`` and
    ``settings_schema`` (a marshmallow Schema for the tenant's settings) and
    implement every method below. Methods are called from request threads and
    must be thread-safe.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    settings_schema: ClassVar[type[marshmallow.Schema]] = marshmallow.Schema

    def __init__(self, settings: dict, *, tenant_slug: str):
        """Validate ``settings`` with ``settings_schema`` (raises marshmallow.ValidationError)."""
        self.tenant_slug = tenant_slug
        self.settings = self.settings_schema().load(dict(settings or {}))

    def submit(self, instruction: Instruction) -> BankResult:
        """Send an instruction. Idempotent per request_no: a repeat returns the first outcome and never
        moves money twice; the same request_no with a different body is refused "request_no_reused".
        Raises BankTimeout (outcome unknown) or BankUnavailable (not accepted)."""
        raise NotImplementedError

    def query(self, request_no: str) -> BankResult:
        """Current status of an earlier instruction; refused "unknown_request" if the bank never saw it."""
        raise NotImplementedError

    def balance(self, account: str) -> Balance:
        """The bank's balances of ``account``; CustodyError("unknown_account") if it does not exist."""
        raise NotImplementedError

    def holder(self, account: str) -> AccountHolder | None:
        """Whose ``account`` is (:class:`AccountHolder`); CustodyError("unknown_account") if it does not
        exist; None when this bank cannot tell (then a base-data import cannot check ownership)."""
        return None

    def statement(self, day: date, currency: str) -> Statement:
        """The bank's statement of ``day`` in ``currency``, used for the daily reconciliation."""
        raise NotImplementedError

    def handle_callback(self, headers: Mapping[str, str], body: bytes) -> BankResult:
        """Verify and parse an asynchronous result notice; raise BadSignature on a bad one.
        The same notice twice gives the same BankResult."""
        raise NotImplementedError

    def check(self) -> None:
        """Reachability check; raise CustodyError with a reason if the bank cannot be used."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections and files (optional)."""
