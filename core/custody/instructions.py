"""The life of a custody instruction: created with its pending entry, sent, settled by the bank.

* :func:`create` records the instruction and its pending ledger entry in one
  transaction (the entry reserves the money leaving an account).
* :func:`send` hands a ``created`` instruction to the tenant's provider, outside
  any database transaction, then applies the answer:
  ``confirmed`` → entry posted; ``refused`` → entry voided; ``pending`` → ``sent``
  (a callback or a query settles it); :class:`BankTimeout` or any other doubt →
  ``unknown``; :class:`BankUnavailable` (not accepted) → stays ``created``, and
  resending the same request number later is safe.
* :func:`resolve_unknown` settles ``unknown`` and ``sent`` instructions ONLY by
  querying the bank with the same request number. When the bank answers that it
  never saw the request number, the very same instruction (same request number,
  same body) is submitted again: the bank treats a request number once, so no
  money can move twice. A second instruction for the same intent is never made.
* :func:`apply_result` is idempotent: a final instruction ignores later news,
  so duplicate or late callbacks change nothing.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.custody.models import INSTRUCTION_TRANSITIONS, CustodyInstruction
from core.custody.provider import BankResult, BankUnavailable, CustodyError, CustodyProvider, Instruction
from core.extensions import db
from core.kept import keep_after_commit
from core.ledger import errors as ledger_errors
from core.ledger.errors import InvalidTransition
from core.ledger.journal import change_state, write_entry, writing
from core.tenancy.models import Tenant, aware, utcnow
from core.tenancy.scoping import TenantNotBound, current_tenant_id

log = logging.getLogger("lendkit.custody")

__all__ = [
    "provider_for",
    "current_tenant",
    "create",
    "send",
    "apply_result",
    "apply_callback",
    "resolve_unknown",
    "instruction_by_key",
    "instruction_by_request_no",
    "new_request_no",
]

#: Kinds whose confirmation opens ledger accounts instead of posting an entry.
_NO_ENTRY = frozenset({"open_account"})
_providers_lock = threading.Lock()


# --------------------------------------------------------------------- providers


def current_tenant() -> Tenant:
    """The bound tenant (TenantNotBound when none is)."""
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantNotBound("no tenant is bound; custody operations need one")
    return db.session.get(Tenant, tenant_id)


def provider_for(tenant: Tenant) -> CustodyProvider:
    """The tenant's custody provider (``providers.custody`` in tenant.yaml), built once per app and choice."""
    from core.plugins import provider_registry

    choice = (tenant.config.get("providers") or {}).get("custody") or {}
    name = choice.get("name")
    cache_key = (tenant.id, tenant.slug, json.dumps(choice, sort_keys=True, default=str))
    cache = current_app.extensions.setdefault("lendkit_custody_providers", {})
    with _providers_lock:
        provider = cache.get(cache_key)
        if provider is None:
            try:
                cls = provider_registry()["custody"][name]
            except KeyError:
                raise CustodyError("no_provider", f"tenant {tenant.slug} names no installed custody bank {name!r}") from None
            provider = cls(choice.get("settings") or {}, tenant_slug=tenant.slug)
            for key in [k for k in cache if k[0] == tenant.id]:  # the tenant changed banks: drop the old one
                cache.pop(key).close()
            cache[cache_key] = provider
    return provider


def statement_timezone(provider: CustodyProvider):
    """The time zone the bank's statements count days in (``statement_timezone`` on the provider, else UTC)."""
    name = getattr(provider, "statement_timezone", None) or getattr(provider, "settings", {}).get("statement_timezone")
    return ZoneInfo(name) if name else timezone.utc


# --------------------------------------------------------------------- lookups


def instruction_by_key(key: str) -> CustodyInstruction | None:
    return db.session.scalars(
        select(CustodyInstruction).where(CustodyInstruction.idempotency_key == key)
        .execution_options(populate_existing=True)
    ).first()


def instruction_by_request_no(request_no: str) -> CustodyInstruction | None:
    return db.session.scalars(
        select(CustodyInstruction).where(CustodyInstruction.request_no == request_no)
        .execution_options(populate_existing=True)
    ).first()


def _lock(instruction_id: int) -> CustodyInstruction:
    return db.session.scalars(
        select(CustodyInstruction).where(CustodyInstruction.id == instruction_id)
        .with_for_update().execution_options(populate_existing=True)
    ).one()


def new_request_no(tenant_id: int) -> str:
    """A fresh request number: ``T<tenant id>-<24 hex digits>`` (unique per tenant, at most 64 characters)."""
    return f"T{tenant_id}-{uuid.uuid4().hex[:24]}"


def body_digest(instruction: Instruction, tenant) -> str:
    """sha256 of the instruction without its request number: what the caller asked for.

    Personal details (``open_account``) enter it only as a keyed hash, so the
    digest stored in the database reveals nothing about them.
    """
    body = instruction.to_dict()
    body.pop("request_no")
    if body.get("details"):
        from core.accounts.crypto import keyed_hash

        body["details"] = keyed_hash(tenant, "index", _canonical(body["details"]))
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


def _canonical(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: The field name personal details are sealed under (it is part of the encryption's associated data).
DETAILS_FIELD = "custody_instruction.details"


def stored_body(instruction: Instruction, tenant) -> dict:
    """The instruction as kept in the database: personal details sealed with the tenant's data key."""
    body = instruction.to_dict()
    if body.get("details"):
        from core.accounts.crypto import seal

        body["details"] = {"sealed": base64.b64encode(seal(tenant, DETAILS_FIELD, _canonical(body["details"]))).decode()}
    return body


def instruction_of(record: CustodyInstruction, tenant) -> Instruction:
    """The exact instruction to (re)send, personal details opened again."""
    body = dict(record.body)
    sealed = (body.get("details") or {}).get("sealed")
    if sealed:
        from core.accounts.crypto import open_text

        body["details"] = json.loads(open_text(tenant, DETAILS_FIELD, base64.b64decode(sealed)))
    return Instruction.from_dict(body)


# --------------------------------------------------------------------- state


def invalid_transition(instruction: CustodyInstruction, wanted: str) -> InvalidTransition:
    return InvalidTransition(
        _l("Custody instruction %(id)s cannot go from %(current)s to %(wanted)s.",
           id=instruction.request_no, current=instruction.state, wanted=wanted),
        id=instruction.request_no, current=instruction.state, wanted=wanted,
    )


def move(instruction: CustodyInstruction, to: str) -> None:
    """Change ``instruction.state`` along :data:`INSTRUCTION_TRANSITIONS` (InvalidTransition otherwise)."""
    if to not in INSTRUCTION_TRANSITIONS[instruction.state]:
        raise invalid_transition(instruction, to)
    instruction.state = to
    now = utcnow()
    if to in ("sent", "confirmed", "refused") and instruction.sent_at is None:
        instruction.sent_at = now
    if to in ("confirmed", "refused"):
        instruction.finished_at = now


# --------------------------------------------------------------------- create and send


def create(build, *, kind: str, key: str, lines=None, memo: str = "", owner: str | None = None):
    """Record an instruction (and its pending entry when ``lines`` are given) in one transaction.

    ``build(request_no)`` returns the :class:`Instruction`. Returns
    ``(instruction, created)``; the same ``key`` with the same body returns the
    first instruction, with another body raises IdempotencyConflict.
    """
    if not isinstance(key, str) or not key or len(key) > 200:
        raise ValueError("an idempotency key must be a non-empty string of at most 200 characters")
    tenant = current_tenant()
    digest = body_digest(build("probe"), tenant)
    existing = instruction_by_key(key)
    if existing is not None:
        return _replayed(existing, digest, key), False
    provider_name = (tenant.config.get("providers") or {}).get("custody", {}).get("name", "")
    try:
        with writing() as tx:
            request_no = new_request_no(tx.tenant_id)
            instruction = build(request_no)
            entry = None
            if lines:
                entry, _created = write_entry(tx, lines, key=f"custody:{request_no}", kind=kind, memo=memo,
                                              pending=True, request_no=request_no)
            record = CustodyInstruction(
                request_no=request_no, idempotency_key=key, digest=digest, kind=kind, state="created",
                provider=provider_name, body=stored_body(instruction, tenant), owner=owner,
                entry_id=entry.id if entry is not None else None, memo=(memo or "")[:500], attempts=0,
                bank_ref=None, reason=None, sent_at=None, finished_at=None, created_at=utcnow(), updated_at=utcnow(),
            )
            db.session.add(record)
            db.session.flush()
            keep_after_commit(record)  # sending it next reads it: the values are the ones just written
    except IntegrityError:
        existing = instruction_by_key(key)  # a concurrent caller created it first
        if existing is None:
            raise
        return _replayed(existing, digest, key), False
    return record, True


def _replayed(existing: CustodyInstruction, digest: str, key: str) -> CustodyInstruction:
    if existing.digest != digest:
        raise ledger_errors.idempotency_conflict(key)
    return existing


def send(instruction: CustodyInstruction) -> CustodyInstruction:
    """Hand a ``created`` instruction to the bank and apply the answer; other states are returned as they are."""
    if instruction.state != "created":
        return instruction
    return _submit(instruction)


def _submit(instruction: CustodyInstruction) -> CustodyInstruction:
    """Submit the stored body (same request number) and apply what comes back."""
    instruction_id = instruction.id
    tenant = current_tenant()
    body = instruction_of(instruction, tenant)
    provider = provider_for(tenant)
    try:
        result = provider.submit(body)
    except BankUnavailable as exc:
        log.info("custody %s not accepted (%s): stays %s, safe to resend", body.request_no, exc.reason,
                 instruction.state)
        return _note_failure(instruction_id, exc.reason)
    except CustodyError as exc:  # timeout, bad signature, unreadable answer: the outcome is unknown
        log.warning("custody %s outcome unknown (%s): resolve by query", body.request_no, exc.reason)
        return apply_result(instruction_id, None, unknown_reason=exc.reason, sent=True)
    return apply_result(instruction_id, result, sent=True)


def _note_failure(instruction_id: int, reason: str) -> CustodyInstruction:
    with writing():
        instruction = _lock(instruction_id)
        instruction.attempts += 1
        instruction.reason = (reason or "")[:64]
        instruction.updated_at = utcnow()
    return db.session.get(CustodyInstruction, instruction_id)


def _value_date(result: BankResult, provider: CustodyProvider) -> date:
    """The statement day of a confirmation: the bank's settlement time in its statement time zone."""
    settled = (result.raw or {}).get("settled_at")
    moment = None
    if isinstance(settled, str):
        try:
            moment = datetime.fromisoformat(settled)
        except ValueError:
            moment = None
    moment = moment or utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(statement_timezone(provider)).date()


def apply_result(instruction_id: int, result: BankResult | None, *, unknown_reason: str | None = None,
                 sent: bool = False) -> CustodyInstruction:
    """Apply the bank's answer (or, with ``result=None``, an unknown outcome) under the instruction's row lock.

    Idempotent: a final instruction is left as it is (a contradicting answer is logged).
    """
    with writing() as tx:
        instruction = _lock(instruction_id)
        if sent:
            instruction.attempts += 1
        instruction.updated_at = utcnow()
        if instruction.final:
            if result is not None and result.final and result.status != instruction.state:
                log.error("custody %s is %s but the bank now says %s (%s)", instruction.request_no,
                          instruction.state, result.status, result.reason)
        elif result is None:
            instruction.reason = (unknown_reason or "unknown")[:64]
            if instruction.state == "created":
                move(instruction, "unknown")
        elif result.status == "pending":
            instruction.bank_ref = result.bank_ref or instruction.bank_ref
            if instruction.state in ("created", "unknown"):
                move(instruction, "sent")
        elif result.status == "refused" and result.reason == "request_no_reused":
            # our body differs from what the bank holds under this number: the first outcome stands there
            log.error("custody %s: bank says request_no_reused; resolve by query", instruction.request_no)
            instruction.reason = "request_no_reused"
            if instruction.state == "created":
                move(instruction, "unknown")
        elif result.status == "confirmed":
            move(instruction, "confirmed")
            instruction.bank_ref = result.bank_ref or instruction.bank_ref
            instruction.reason = None
            if instruction.entry_id is not None:
                provider = provider_for(current_tenant())
                change_state(tx, instruction.entry_id, "posted", value_date=_value_date(result, provider))
            if instruction.kind == "open_account":
                _open_ledger_accounts(instruction)
        else:  # refused
            move(instruction, "refused")
            instruction.bank_ref = result.bank_ref or instruction.bank_ref
            instruction.reason = (result.reason or "refused")[:64]
            if instruction.entry_id is not None:
                change_state(tx, instruction.entry_id, "voided")
        db.session.flush()
        keep_after_commit(instruction)  # the caller reads the outcome: the values are the ones just written
    return instruction


def _open_ledger_accounts(instruction: CustodyInstruction) -> None:
    from core.ledger.chart import open_platform_accounts, open_user_accounts

    owner = instruction.owner or ""
    if owner.startswith("user:"):
        open_user_accounts(int(owner.split(":", 1)[1]), custody_account=instruction.body["account"],
                           currency=instruction.body["currency"])
    else:
        open_platform_accounts(instruction.body["currency"])


def apply_callback(result: BankResult) -> CustodyInstruction | None:
    """Apply a verified asynchronous notice; None when the bound tenant has no such request number."""
    instruction = instruction_by_request_no(result.request_no)
    if instruction is None:
        return None
    if not result.final:
        return instruction
    return apply_result(instruction.id, result)


# --------------------------------------------------------------------- recovery


def resolve_unknown(*, grace: timedelta = timedelta(seconds=30)) -> dict[str, int]:
    """Settle every open instruction of the bound tenant by asking the bank about its request number.

    ``unknown`` and ``sent`` instructions are queried (a ``sent`` one may have
    lost its callback); ``created`` ones older than ``grace`` (a crash or an
    unavailable bank) are queried too. An instruction the bank never received
    is submitted again under the same request number. Returns counts:
    ``{"checked", "confirmed", "refused", "open", "failed"}``.
    """
    cutoff = utcnow() - grace
    candidates = db.session.scalars(
        select(CustodyInstruction)
        .where(CustodyInstruction.state.in_(("unknown", "sent", "created")))
        .order_by(CustodyInstruction.id)
    ).all()
    todo = [(i.id, i.state, i.request_no) for i in candidates
            if i.state != "created" or aware(i.updated_at) <= cutoff]
    provider = provider_for(current_tenant())
    counts = {"checked": 0, "confirmed": 0, "refused": 0, "open": 0, "failed": 0}
    for instruction_id, _state, request_no in todo:
        counts["checked"] += 1
        try:
            result = provider.query(request_no)
        except CustodyError as exc:
            log.info("custody %s: query failed (%s); still open", request_no, exc.reason)
            counts["failed"] += 1
            continue
        if result.status == "refused" and result.reason == "unknown_request":
            instruction = db.session.get(CustodyInstruction, instruction_id)
            if instruction.state in ("created", "unknown"):
                instruction = _submit(instruction)  # the same request number: the bank applies it at most once
            else:
                log.error("custody %s was accepted but the bank no longer knows it", request_no)
        else:
            instruction = apply_result(instruction_id, result)
        state = instruction.state
        counts[state if state in ("confirmed", "refused") else "open"] += 1
    return counts
