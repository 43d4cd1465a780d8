"""The ``sandbox`` custody provider: the bank engine in-process with a per-tenant SQLite file.

Results are immediate (confirmed or refused, never pending) and there are no
callbacks. It is the embedded default for the demo and fast tests.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Mapping

from marshmallow import Schema, fields

from core.custody.provider import AccountHolder, Balance, BankResult, CustodyError, CustodyProvider, Instruction, Statement

from .engine import BankEngine

__all__ = ["SandboxCustody", "SandboxSettingsSchema", "DEFAULT_DATABASE_URL"]

DEFAULT_DATABASE_URL = "sqlite:///instance/sandbox-bank-{tenant_slug}.db"
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+$")


class SandboxSettingsSchema(Schema):
    """tenant.yaml settings of the sandbox bank."""

    database_url = fields.String(load_default=None, allow_none=True)


class SandboxCustody(CustodyProvider):
    """In-process sandbox custody bank (immediate results, no callbacks)."""

    name = "sandbox"
    title = "Sandbox custody bank (in-process)"
    settings_schema = SandboxSettingsSchema

    def __init__(self, settings: dict, *, tenant_slug: str):
        super().__init__(settings, tenant_slug=tenant_slug)
        if not _SLUG.match(tenant_slug or ""):
            raise ValueError(f"invalid tenant slug {tenant_slug!r}")
        url = (self.settings.get("database_url") or DEFAULT_DATABASE_URL).format(tenant_slug=tenant_slug)
        if url.startswith("sqlite:///instance/"):
            from core.plugins import instance_file

            url = "sqlite:///" + instance_file(url[len("sqlite:///"):])
        self.database_url = url
        self.engine = BankEngine(self.database_url)

    def submit(self, instruction: Instruction) -> BankResult:
        return self.engine.submit(instruction)

    def query(self, request_no: str) -> BankResult:
        return self.engine.query(request_no)

    def balance(self, account: str) -> Balance:
        return self.engine.balance(account)

    def holder(self, account: str) -> AccountHolder:
        return self.engine.holder(account)

    def statement(self, day: date, currency: str) -> Statement:
        return self.engine.statement(day, currency)

    def handle_callback(self, headers: Mapping[str, str], body: bytes) -> BankResult:
        raise CustodyError("callbacks_not_used", "the sandbox bank answers synchronously and sends no callbacks")

    def preload_account(self, account: str, **details) -> Balance:
        """SANDBOX ONLY: the bank already holds ``account`` with these balances (see
        :meth:`BankEngine.preload_account`); how tests and demos stand in for a client's existing accounts."""
        return self.engine.preload_account(account, **details)

    def clear(self) -> None:
        """SANDBOX ONLY: empty this tenant's sandbox bank (see :meth:`BankEngine.clear`)."""
        self.engine.clear()

    def check(self) -> None:
        try:
            self.engine.ping()
        except Exception as exc:  # noqa: BLE001 - any database failure means "not reachable"
            raise CustodyError("unreachable", f"sandbox bank database not usable: {exc}") from exc

    def close(self) -> None:
        self.engine.close()
