"""Know your customer: identity verification of people and enterprises, then staff review.

A person gives a real name, a resident identity number and three photos
(front, back, holding the card). The number is validated (GB 11643), the
person must be an adult, the number must not belong to another account, and
the tenant's credit bureau must confirm that name and number belong
together. A bureau that does not answer means "try later" — never a silent
pass. Only then are the photos stored (encrypted) and the application queued
for a reviewer.

An enterprise gives its name, unified social credit code (GB 32100), legal
representative and business licence; it goes to the same queue.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.accounts import crypto, documents
from core.accounts.identity import InvalidIdentity, validate_resident_id, validate_uscc
from core.accounts.models import KYC_TRANSITIONS, KycApplication, KycDocument, User
from core.accounts.policy import AccountRefused, now
from core.audit import audit
from core.credit import BureauUnavailable
from core.extensions import db

PERSON_DOCUMENTS = ("id_front", "id_back", "id_holding")
ENTERPRISE_DOCUMENTS = ("business_licence",)
ADULT_AGE = 18
_NAME_RE = re.compile(r"^[\w\u3400-\u9fff·•・' .-]{2,50}$")

BUREAU_REASONS = {
    "name_mismatch": _l("The name does not match the identity number. Please enter your name exactly as on your identity card."),
    "not_found": _l("The identity number was not found. Please check it against your identity card."),
}


def credit_bureau(tenant):
    """The tenant's credit bureau provider from ``providers.credit_bureau``."""
    from core.plugins import provider_registry

    choice = tenant.config["providers"]["credit_bureau"]
    cls = provider_registry()["credit_bureau"][choice["name"]]
    return cls(choice.get("settings") or {}, tenant_slug=tenant.slug)


def latest_application(user: User) -> KycApplication | None:
    return db.session.scalar(
        select(KycApplication).where(KycApplication.user_id == user.id).order_by(KycApplication.id.desc()).limit(1)
    )


def subject_of(subject_key: str) -> tuple[str, str] | None:
    """``(subject_type, identity number or credit code)`` of the approved KYC whose blind index is
    ``subject_key`` at the bound tenant, or None: how the credit module's scheduled re-rating asks
    the bureau about a subject it only knows by key."""
    application = db.session.scalar(
        select(KycApplication)
        .where(KycApplication.status == "approved",
               (KycApplication.id_number_index == subject_key) | (KycApplication.uscc_index == subject_key))
        .order_by(KycApplication.id.desc()).limit(1)
    )
    if application is None:
        return None
    if application.kind == "person":
        return "person", application.id_number
    return "enterprise", application.uscc


def kyc_status(user: User) -> str:
    """``none``, ``pending``, ``approved`` or ``rejected`` (of the newest application)."""
    application = latest_application(user)
    return application.status if application else "none"


def is_verified(user: User) -> bool:
    return kyc_status(user) == "approved"


def clean_name(raw: str, field: str) -> str:
    name = " ".join(unicodedata.normalize("NFKC", raw or "").split())
    if not _NAME_RE.fullmatch(name) or any(c.isdigit() for c in name):
        raise AccountRefused(field, "name", _l("Please enter the full name as written on the identity card."))
    return name


def _may_apply(user: User, kind: str) -> None:
    if user.kind != kind:
        raise AccountRefused(None, "wrong_kind",
                             _l("Personal accounts verify a person; enterprise accounts verify a company."), status=409)
    status = kyc_status(user)
    if status == "pending":
        raise AccountRefused(None, "kyc_pending", _l("Your verification is waiting for review; there is nothing to resubmit."), status=409)
    if status == "approved":
        raise AccountRefused(None, "kyc_done", _l("Your identity is already verified."), status=409)


def _taken(column, index: str, user: User) -> bool:
    return db.session.scalar(
        select(KycApplication.id).where(
            column == index, KycApplication.user_id != user.id, KycApplication.status.in_(("pending", "approved"))
        ).limit(1)
    ) is not None


def _store(tenant, application: KycApplication, images: dict[str, tuple[str, bytes]]) -> None:
    stored = []
    try:
        for kind, (content_type, data) in images.items():
            name = documents.store(tenant, data)
            stored.append(name)
            application.documents.append(KycDocument(kind=kind, content_type=content_type, size=len(data), storage_name=name))
        db.session.add(application)
        db.session.flush()
    except Exception:
        db.session.rollback()
        for name in stored:
            documents.remove(tenant, name)
        raise


def submit_person(tenant, user: User, *, real_name: str, id_number: str, photos: dict, today: date | None = None) -> KycApplication:
    """Check and queue a person's verification; every refusal says why and stores nothing."""
    _may_apply(user, "person")
    name = clean_name(real_name, "real_name")
    try:
        resident = validate_resident_id(id_number, today=today)
    except InvalidIdentity as exc:
        raise AccountRefused("id_number", exc.code, exc.message) from None
    if resident.age(today or date.today()) < ADULT_AGE:
        raise AccountRefused("id_number", "minor", _l("You must be at least 18 years old to use this service."))
    index = crypto.blind_index(tenant, "id_number", resident.number)
    if _taken(KycApplication.id_number_index, index, user):
        raise AccountRefused("id_number", "id_taken",
                             _l("This identity number is already used by another account. Please contact customer service."), status=409)
    images = {kind: documents.read_image(kind, photos.get(kind)) for kind in PERSON_DOCUMENTS}
    try:
        check = credit_bureau(tenant).verify_identity(name, resident.number)
    except BureauUnavailable:
        audit("kyc.bureau_unavailable", actor=user, target=user)
        db.session.commit()
        raise AccountRefused(None, "bureau_unavailable",
                             _l("The identity check service is not available right now. Nothing was saved; please try again later."),
                             status=503) from None
    if not check.matched:
        audit("kyc.bureau_refused", actor=user, target=user, details={"reason": check.reason})
        db.session.commit()
        message = BUREAU_REASONS.get(check.reason, _l("The identity check did not confirm your name and identity number."))
        raise AccountRefused("id_number" if check.reason == "not_found" else "real_name", check.reason or "not_matched", message)
    application = KycApplication(
        user_id=user.id, kind="person", status="pending", bureau_result="matched",
        name_sealed=crypto.seal(tenant, "kyc.name", name),
        id_number_sealed=crypto.seal(tenant, "kyc.id_number", resident.number),
        id_number_index=index, submitted_at=now(),
    )
    _store(tenant, application, images)
    audit("kyc.submitted", actor=user, target=application, details={"kind": "person"})
    db.session.commit()
    return application


def submit_enterprise(tenant, user: User, *, company_name: str, uscc: str, legal_representative: str, licence) -> KycApplication:
    _may_apply(user, "enterprise")
    company = " ".join(unicodedata.normalize("NFKC", company_name or "").split())
    if not 2 <= len(company) <= 200:
        raise AccountRefused("company_name", "company_name", _l("Please enter the company's registered name."))
    try:
        code = validate_uscc(uscc)
    except InvalidIdentity as exc:
        raise AccountRefused("uscc", exc.code, exc.message) from None
    representative = clean_name(legal_representative, "legal_representative")
    index = crypto.blind_index(tenant, "uscc", code.code)
    if _taken(KycApplication.uscc_index, index, user):
        raise AccountRefused("uscc", "uscc_taken",
                             _l("This credit code is already used by another account. Please contact customer service."), status=409)
    images = {"business_licence": documents.read_image("business_licence", licence)}
    application = KycApplication(
        user_id=user.id, kind="enterprise", status="pending", bureau_result="not_checked",
        name_sealed=crypto.seal(tenant, "kyc.name", representative), company_name=company,
        uscc_sealed=crypto.seal(tenant, "kyc.uscc", code.code), uscc_index=index, submitted_at=now(),
    )
    _store(tenant, application, images)
    audit("kyc.submitted", actor=user, target=application, details={"kind": "enterprise"})
    db.session.commit()
    return application


def _decide(application: KycApplication, status: str) -> None:
    if status not in KYC_TRANSITIONS[application.status]:
        raise AccountRefused(None, "kyc_decided", _l("This application has already been decided."), status=409)


def approve(application: KycApplication, reviewer: User) -> None:
    _decide(application, "approved")
    if application.user_id == reviewer.id:
        raise AccountRefused(None, "own_application", _l("You cannot review your own application."), status=403)
    application.status = "approved"
    application.reviewed_at = now()
    application.reviewer_id = reviewer.id
    audit("kyc.approved", actor=reviewer, target=application, details={"user": application.user_id})
    db.session.commit()


def reject(application: KycApplication, reviewer: User, reason: str) -> None:
    _decide(application, "rejected")
    if application.user_id == reviewer.id:
        raise AccountRefused(None, "own_application", _l("You cannot review your own application."), status=403)
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 500:
        raise AccountRefused("reason", "reason", _l("Please tell the applicant why (up to 500 characters)."))
    application.status = "rejected"
    application.reviewed_at = now()
    application.reviewer_id = reviewer.id
    application.reject_reason = reason
    audit("kyc.rejected", actor=reviewer, target=application, details={"user": application.user_id, "reason": reason})
    db.session.commit()
