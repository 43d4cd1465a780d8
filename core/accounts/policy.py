"""The tenant's security policy, password hashing, and the one refusal type accounts raise.

Every refusal is an :class:`AccountRefused` naming the field, a
machine-readable code, a translated message saying why, and the HTTP status
the API answers with. Pages put the message next to the field; the API
returns ``{"code", "status", "message", "errors": {field: [message]}}``.
"""
from __future__ import annotations

from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from core.tenancy.config import SecuritySchema


class AccountRefused(Exception):
    """A request about an account was refused; ``message`` says why (never holds personal data)."""

    def __init__(self, field: str | None, code: str, message, status: int = 422, retry_after: int | None = None):
        super().__init__(field, code, message)
        self.field = field
        self.code = code
        self.message = message
        self.status = status
        #: Seconds until trying again makes sense (cooldowns, lockouts).
        self.retry_after = retry_after

    def __str__(self) -> str:
        return str(self.message)


def now() -> datetime:
    return datetime.now(timezone.utc)


def security_settings(tenant) -> dict:
    """The tenant's ``security`` section with every default filled in."""
    cache = getattr(tenant, "_security_cache", None)
    if cache is not None and cache[0] is tenant.config:
        return cache[1]
    settings = SecuritySchema().load((tenant.config or {}).get("security") or {})
    tenant._security_cache = (tenant.config, settings)
    return settings


def _hasher() -> PasswordHasher:
    """argon2id; cheap parameters under LENDKIT_ENV=testing only."""
    if current_app.config.get("LENDKIT_ENV") == "testing":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


_DUMMY: dict[str, str] = {}


def burn_password_time(password: str) -> None:
    """Spend as long as a real check, so an unknown number answers as slowly as a known one."""
    key = current_app.config.get("LENDKIT_ENV", "")
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("not-a-real-password-1")
    password_matches(_DUMMY[key], password)
