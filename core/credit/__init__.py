"""Credit: the bureau contract, scoring and grades.

:class:`CreditBureau` is what a credit-bureau plugin implements. A bureau
that cannot answer raises :class:`BureauUnavailable`; the caller tells the
user to try later and never treats silence as a clean report.

The rest of the package (``docs/credit.md``):

* :mod:`core.credit.report` — :class:`BureauReport`, the value a bureau returns.
* :mod:`core.credit.settings` — the ``credit`` section of ``tenant.yaml``.
* :mod:`core.credit.scoring` — scorecard → score → grade, pure functions.
* :mod:`core.credit.compliance` — compliance rule packs and borrowing caps.
* :mod:`core.credit.reports`, :mod:`core.credit.grades` — stored reports and grades.
* :mod:`core.credit.calculator` — the public loan calculator (page, API, CLI).
"""
from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema

from core.credit.report import LENDER_TYPES, SUBJECT_TYPES, BureauReport, OpenDebt  # noqa: F401


class BureauUnavailable(Exception):
    """The bureau did not answer (down, timeout, bad signature, malformed reply)."""


@dataclass(frozen=True)
class IdentityCheck:
    #: True when the name and identity number belong together at the bureau.
    matched: bool
    #: Machine-readable reason when not matched, e.g. ``name_mismatch``, ``not_found``.
    reason: str | None = None


class CreditBureau:
    """Base class of credit-bureau providers."""

    #: The name a ``tenant.yaml`` uses under ``providers.credit_bureau.name``.
    name: str = ""
    title: str = ""
    #: marshmallow Schema class validating ``providers.credit_bureau.settings``.
    settings_schema: type[Schema] = Schema

    def __init__(self, settings: dict, *, tenant_slug: str):
        self.settings = self.settings_schema().load(settings)
        self.tenant_slug = tenant_slug

    def verify_identity(self, name: str, id_number: str) -> IdentityCheck:
        """Does ``id_number`` belong to a person called ``name``?"""
        raise NotImplementedError

    def fetch_report(self, subject_type: str, subject_id: str, *, name: str | None = None) -> BureauReport:
        """The bureau's current report on a subject.

        ``subject_type`` is ``person`` (``subject_id`` a resident identity
        number) or ``enterprise`` (a unified social credit code); ``name``,
        when given, is checked against the identity. A subject the bureau does
        not know gets a report with ``identity_matched=False``, not an error.
        Raise :class:`BureauUnavailable` when the bureau cannot answer.
        """
        raise NotImplementedError
