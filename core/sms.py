"""The SMS provider contract: what an SMS gateway plugin implements.

A provider sends one text to one mobile number and says whether the gateway
accepted it. A gateway failure raises :class:`SmsError`; the caller treats it
as the normal event it is (tell the user to try again, keep the code unused).
"""
from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema


class SmsError(Exception):
    """The gateway did not accept the message (down, timeout, refused, bad signature)."""


@dataclass(frozen=True)
class SmsReceipt:
    #: The gateway's id for the message, for support and delivery reports.
    message_id: str
    provider: str


class SmsProvider:
    """Base class of SMS providers; subclasses set the class attributes and ``send``."""

    #: The name a ``tenant.yaml`` uses under ``providers.sms.name``.
    name: str = ""
    #: One line for ``lendkit plugins`` and the consoles.
    title: str = ""
    #: marshmallow Schema class validating ``providers.sms.settings``.
    settings_schema: type[Schema] = Schema

    def __init__(self, settings: dict, *, tenant_slug: str):
        self.settings = self.settings_schema().load(settings)
        self.tenant_slug = tenant_slug

    def send(self, mobile: str, text: str) -> SmsReceipt:
        """Send ``text`` to the 11-digit ``mobile``; raise :class:`SmsError` on failure."""
        raise NotImplementedError
