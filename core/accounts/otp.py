"""One-time codes sent by SMS.

* 6 digits from :mod:`secrets`; only an HMAC of the code is stored, keyed per
  tenant and mixed with a per-code salt, the purpose and the number.
* Bound to a purpose (:data:`~core.accounts.models.OTP_PURPOSES`): a
  registration code does not reset a password.
* Single use; valid ``security.otp_ttl_minutes`` (at most 10); burned after
  ``otp_max_tries`` tries (at most 5); a new code supersedes the old one.
* Resend cooldown per number and purpose; daily caps per number and per IP
  (rolling 24 hours), on top of the request rate limits.
* The text is sent first and the code stored only when the gateway accepted
  it: a provider failure (:class:`~core.sms.SmsError`) leaves no row behind
  and answers "could not send, try again".
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from core.accounts import crypto
from core.accounts.identity import mask_mobile
from core.accounts.models import OTP_PURPOSES, OtpCode, aware
from core.accounts.policy import AccountRefused, now, security_settings
from core.accounts.sms import render, send_text
from core.extensions import db
from core.sms import SmsError


@dataclass(frozen=True)
class SentCode:
    masked_mobile: str
    expires_at: datetime
    #: Seconds before another code for this number and purpose can be sent.
    resend_after: int


def _hash(tenant, salt: str, purpose: str, index: str, code: str) -> str:
    return crypto.keyed_hash(tenant, "otp", f"{salt}:{purpose}:{index}:{code}")


def send_code(tenant, mobile: str, purpose: str, *, ip: str = "", locale: str | None = None) -> SentCode:
    """Send a new code for ``purpose`` to ``mobile`` (11 digits, already validated)."""
    if purpose not in OTP_PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    settings = security_settings(tenant)
    index = crypto.blind_index(tenant, "mobile", mobile)
    moment = now()
    last = db.session.scalar(
        select(OtpCode.created_at)
        .where(OtpCode.mobile_index == index, OtpCode.purpose == purpose)
        .order_by(OtpCode.created_at.desc())
        .limit(1)
    )
    cooldown = timedelta(seconds=settings["otp_resend_seconds"])
    if last is not None and moment - aware(last) < cooldown:
        wait = int((aware(last) + cooldown - moment).total_seconds()) + 1
        raise AccountRefused("mobile", "otp_cooldown",
                             _l("A code was sent a moment ago. You can ask for another in %(seconds)d seconds.", seconds=wait),
                             status=429, retry_after=wait)
    day_ago = moment - timedelta(hours=24)
    per_mobile = db.session.scalar(
        select(func.count(OtpCode.id)).where(OtpCode.mobile_index == index, OtpCode.created_at > day_ago)
    )
    if per_mobile >= settings["otp_daily_per_mobile"]:
        raise AccountRefused("mobile", "otp_daily_mobile",
                             _l("This number has received as many codes as allowed today. Please try again tomorrow."),
                             status=429, retry_after=24 * 3600)
    if ip:
        per_ip = db.session.scalar(select(func.count(OtpCode.id)).where(OtpCode.ip == ip, OtpCode.created_at > day_ago))
        if per_ip >= settings["otp_daily_per_ip"]:
            raise AccountRefused(None, "otp_daily_ip",
                                 _l("Too many codes were requested from your network today. Please try again tomorrow."),
                                 status=429, retry_after=24 * 3600)

    code = f"{secrets.randbelow(10**6):06d}"
    minutes = settings["otp_ttl_minutes"]
    text = render(tenant, "otp", locale or tenant.default_locale, code=code, purpose=purpose, minutes=minutes)
    try:
        receipt = send_text(tenant, mobile, text)
    except SmsError:
        raise AccountRefused("mobile", "sms_failed",
                             _l("We could not send the text message. Please try again in a moment."),
                             status=503) from None

    db.session.execute(
        update(OtpCode)
        .where(OtpCode.mobile_index == index, OtpCode.purpose == purpose, OtpCode.status == "active")
        .values(status="superseded")
    )
    salt = secrets.token_hex(8)
    db.session.add(OtpCode(
        mobile_index=index,
        purpose=purpose,
        salt=salt,
        code_hash=_hash(tenant, salt, purpose, index, code),
        created_at=moment,
        expires_at=moment + timedelta(minutes=minutes),
        ip=ip[:45],
        message_id=receipt.message_id[:100],
    ))
    db.session.commit()
    return SentCode(mask_mobile(mobile), moment + timedelta(minutes=minutes), settings["otp_resend_seconds"])


def check_code(tenant, mobile: str, purpose: str, code: str, *, field: str = "code", consume: bool = True) -> OtpCode:
    """Accept ``code`` for ``purpose`` and mark it used (in the caller's transaction).

    A wrong or stale code raises :class:`AccountRefused`; the try is committed
    first, so tries count even though the caller's request fails. Call it
    before changing anything else in the session. With ``consume=False`` the
    code is checked but stays usable until :func:`use_code`.
    """
    settings = security_settings(tenant)
    index = crypto.blind_index(tenant, "mobile", mobile)
    code = "".join((code or "").split())
    row = db.session.scalar(
        select(OtpCode)
        .where(OtpCode.mobile_index == index, OtpCode.purpose == purpose)
        .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    moment = now()
    if row is None or row.status in ("used", "superseded"):
        raise AccountRefused(field, "otp_missing", _l("Please ask for a code first, then enter the code we sent."))
    if row.status == "burned" or row.tries >= settings["otp_max_tries"]:
        raise AccountRefused(field, "otp_burned", _l("Too many wrong codes. Please ask for a new code."))
    if aware(row.expires_at) <= moment:
        raise AccountRefused(field, "otp_expired", _l("The code has expired. Please ask for a new code."))
    row.tries += 1
    if not (len(code) == 6 and code.isdigit()
            and hmac.compare_digest(row.code_hash, _hash(tenant, row.salt, purpose, index, code))):
        left = settings["otp_max_tries"] - row.tries
        if left <= 0:
            row.status = "burned"
        db.session.commit()
        if left <= 0:
            raise AccountRefused(field, "otp_burned", _l("Too many wrong codes. Please ask for a new code."))
        raise AccountRefused(field, "otp_wrong", _l("The code is not correct. %(left)d tries left.", left=left))
    if consume:
        use_code(row)
    return row


def use_code(row: OtpCode) -> None:
    row.status = "used"
    row.used_at = now()
    db.session.flush()
