"""The audit log: append-only, hash-chained per tenant.

Other modules record staff actions and security events with::

    from core.audit import audit
    audit("kyc.approved", actor=staff_user, target=application, details={"reason": ""})

The record joins the caller's transaction (it is flushed, not committed), so
an action and its record are stored together or not at all. ``details`` must
hold no unmasked personal data; mask it first (``core.accounts.identity``).

Each record holds the previous record's hash; the hash is an HMAC with a key
derived from ``LENDKIT_DATA_KEY`` for the tenant, so altering a record and
recomputing the chain needs the key, not only database access. The head row
remembers the newest record, so removing the last records is noticed too.
``lendkit audit verify --tenant SLUG`` walks the chain (:func:`verify_chain`).
Records are refused by the ORM when changed or deleted, and by a database
trigger when updated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import has_request_context, request
from sqlalchemy import select

from core.audit.models import AuditHead, AuditRecord
from core.extensions import db
from core.tenancy.scoping import TenantNotBound, current_tenant_id

GENESIS = "0" * 64

__all__ = ["audit", "verify_chain", "ChainReport", "AuditRecord", "GENESIS"]


def _actor(actor) -> tuple[int | None, str]:
    if actor is None:
        return None, "anonymous"
    if isinstance(actor, str):
        return None, actor[:120]
    return actor.id, f"user:{actor.id}"


def _target(target) -> str:
    if target is None:
        return ""
    if isinstance(target, str):
        return target[:200]
    label = getattr(target, "audit_label", None)
    if label:
        return label[:200]
    return f"{target.__tablename__}:{target.id}"


def _when(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def record_hash(tenant_id: int, record: AuditRecord) -> str:
    from core.accounts.crypto import keyed_hash

    body = json.dumps(
        [record.seq, _when(record.created_at), record.event, record.actor_id, record.actor, record.target,
         record.details, record.ip, record.prev_hash],
        ensure_ascii=False, separators=(",", ":"),
    )
    return keyed_hash(tenant_id, "audit", body)


def _client_ip() -> str:
    if has_request_context():
        return (request.remote_addr or "")[:45]
    return ""


def audit(event: str, actor=None, target=None, details: dict | None = None) -> AuditRecord:
    """Append one record to the bound tenant's chain, in the caller's transaction."""
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantNotBound("audit() needs a bound tenant")
    head = db.session.scalar(select(AuditHead).with_for_update())
    if head is None:
        head = AuditHead(seq=0, hash=GENESIS)
        db.session.add(head)
    actor_id, actor_label = _actor(actor)
    record = AuditRecord(
        seq=head.seq + 1,
        created_at=datetime.now(timezone.utc),
        event=event,
        actor_id=actor_id,
        actor=actor_label,
        target=_target(target),
        details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str),
        ip=_client_ip(),
        prev_hash=head.hash,
        tenant_id=tenant_id,
    )
    record.hash = record_hash(tenant_id, record)
    head.seq, head.hash = record.seq, record.hash
    db.session.add(record)
    db.session.flush()
    return record


@dataclass
class ChainReport:
    ok: bool
    count: int
    #: ``seq`` of the first bad record (or of the missing one).
    bad_seq: int | None = None
    bad_id: int | None = None
    problem: str = ""


def verify_chain(tenant_id: int) -> ChainReport:
    """Walk the bound tenant's chain from the first record; report the first break."""
    records = db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    expected_prev, expected_seq = GENESIS, 1
    for record in records:
        if record.seq != expected_seq:
            return ChainReport(False, len(records), expected_seq, None,
                               f"record {expected_seq} is missing (next is {record.seq})")
        if record.prev_hash != expected_prev:
            return ChainReport(False, len(records), record.seq, record.id,
                               f"record {record.seq} does not follow record {record.seq - 1} (previous hash differs)")
        if record_hash(tenant_id, record) != record.hash:
            return ChainReport(False, len(records), record.seq, record.id,
                               f"record {record.seq} was altered (its hash does not match its contents)")
        expected_prev, expected_seq = record.hash, record.seq + 1
    head = db.session.scalar(select(AuditHead))
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != expected_prev):
        if head.seq > last_seq:
            return ChainReport(False, len(records), last_seq + 1, None,
                               f"record {last_seq + 1} is missing (the chain's head is record {head.seq})")
        return ChainReport(False, len(records), head.seq, None, "the chain's head does not match its newest record")
    if head is None and records:
        return ChainReport(False, len(records), None, None, "the chain's head is missing")
    return ChainReport(True, len(records))
