"""The sandbox credit bureau: synthetic, deterministic, documented outcomes.

Identity check: a number whose sequence digits (15th–17th) are ``999`` is
"not found"; ``998`` is a "name mismatch"; every other number matches.

Reports: the same three characters (15th–17th of a resident identity number
or of a unified social credit code) pick a documented profile from
:data:`PROFILES`; any other valid number gets a stable profile derived from
its hash; a number failing its check digit is "not found". Enterprise amounts
are five times a person's. :func:`sandbox_identity` builds a valid number
(correct check digit) for a profile; README.md lists them all.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from marshmallow import Schema, fields

from core.accounts.identity import (
    InvalidIdentity,
    resident_id_check_digit,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)
from core.credit import BureauReport, BureauUnavailable, CreditBureau, IdentityCheck, OpenDebt

#: Prefixes of the documented sandbox identities: a Beijing resident born
#: 1990-03-07, and a Beijing company registered with market regulation.
PERSON_PREFIX = "11010119900307"
ENTERPRISE_PREFIX = "91110000MA01CR"
#: Enterprise amounts are this many times a person's.
ENTERPRISE_SCALE = 5

YUAN = 100  # fen


@dataclass(frozen=True)
class Profile:
    """A synthetic bureau record (person amounts, fen)."""

    label: str
    score: int | None = None
    overdue_6m: tuple[int, int] = (0, 0)  # (count, amount)
    overdue_24m: tuple[int, int] = (0, 0)
    debts: tuple[tuple[str, str, int], ...] = ()  # (lender_type, lender, balance)
    court_judgment: bool = False
    blacklisted: bool = False
    identity_reason: str | None = None  # not_found, name_mismatch


_CLEAN = dict(overdue_6m=(0, 0), overdue_24m=(0, 0), debts=(("bank", "Sandbox Bank car loan", 50_000 * YUAN),))

#: Documented profiles by sequence characters (15th–17th). Grades are those of
#: the default scorecard for a borrower new to the platform (docs/credit.md).
PROFILES: dict[str, Profile] = {
    "901": Profile("grade AAA", score=870, **_CLEAN),
    "902": Profile("grade AA", score=780, overdue_24m=(1, 1_500 * YUAN),
                   debts=(("bank", "Sandbox Bank mortgage", 100_000 * YUAN), ("platform", "Sandbox P2P One", 20_000 * YUAN))),
    "903": Profile("grade A", score=680, overdue_24m=(2, 3_000 * YUAN),
                   debts=(("bank", "Sandbox Bank mortgage", 150_000 * YUAN), ("platform", "Sandbox P2P One", 50_000 * YUAN))),
    "904": Profile("grade B", score=620, overdue_6m=(1, 2_000 * YUAN), overdue_24m=(2, 4_000 * YUAN),
                   debts=(("bank", "Sandbox Bank mortgage", 180_000 * YUAN), ("platform", "Sandbox P2P Two", 70_000 * YUAN))),
    "905": Profile("grade C", score=540, overdue_6m=(2, 5_000 * YUAN), overdue_24m=(4, 9_000 * YUAN),
                   debts=(("bank", "Sandbox Bank mortgage", 250_000 * YUAN), ("platform", "Sandbox P2P Two", 100_000 * YUAN))),
    "906": Profile("refused: score too low", score=420, overdue_6m=(3, 12_000 * YUAN), overdue_24m=(6, 30_000 * YUAN),
                   debts=(("bank", "Sandbox Bank mortgage", 400_000 * YUAN), ("other", "Sandbox Microcredit", 200_000 * YUAN))),
    "920": Profile("owes CNY 950,000.00 on other platforms (person; ×5 enterprise)", score=870,
                   debts=(("platform", "Sandbox P2P One", 600_000 * YUAN), ("platform", "Sandbox P2P Two", 350_000 * YUAN))),
    "921": Profile("owes CNY 1,000,000.00 on other platforms (person; ×5 enterprise): at the cross-platform cap", score=870,
                   debts=(("platform", "Sandbox P2P One", 700_000 * YUAN), ("platform", "Sandbox P2P Two", 300_000 * YUAN))),
    "990": Profile("refused: blacklisted", score=870, blacklisted=True, **_CLEAN),
    "991": Profile("refused: court judgment", score=870, court_judgment=True, **_CLEAN),
    "998": Profile("refused: identity mismatch (name mismatch)", identity_reason="name_mismatch"),
    "999": Profile("refused: identity mismatch (not found)", identity_reason="not_found"),
}


def sandbox_identity(code: str, subject_type: str = "person") -> str:
    """A valid resident identity number or credit code whose sequence characters are ``code``."""
    if subject_type == "person":
        first17 = PERSON_PREFIX + code
        return first17 + resident_id_check_digit(first17)
    first17 = ENTERPRISE_PREFIX + code
    return first17 + uscc_check_char(first17)


def _hashed_profile(subject_type: str, subject_id: str) -> Profile:
    """A stable, plausible profile for a number without a documented code."""
    h = int.from_bytes(hashlib.sha256(f"{subject_type}:{subject_id}".encode()).digest()[:8], "big")
    recent = h % 2
    older = recent + (h >> 4) % 3
    debts = [("bank", "Sandbox Bank", ((h >> 8) % 200) * 1_000 * YUAN)]
    platform = ((h >> 16) % 60) * 1_000 * YUAN
    if platform:
        debts.append(("platform", "Sandbox P2P One", platform))
    return Profile(
        "hash-derived",
        score=600 + (h >> 24) % 250,
        overdue_6m=(recent, recent * 1_000 * YUAN),
        overdue_24m=(older, older * 1_000 * YUAN),
        debts=tuple(d for d in debts if d[2]),
    )


def _valid(subject_type: str, subject_id: str) -> bool:
    try:
        if subject_type == "person":
            validate_resident_id(subject_id)
        else:
            validate_uscc(subject_id)
    except InvalidIdentity:
        return False
    return True


def synthetic_report(subject_type: str, subject_id: str, *, bureau: str = "sandbox", now: datetime | None = None) -> BureauReport:
    """The sandbox's report on a subject (also what the sandbox bureau server answers)."""
    if subject_type not in ("person", "enterprise"):
        raise ValueError(f"subject_type must be person or enterprise, got {subject_type!r}")
    subject_id = (subject_id or "").strip().upper()
    code = subject_id[14:17]
    if not _valid(subject_type, subject_id):
        profile = PROFILES["999"]
    else:
        profile = PROFILES.get(code) or _hashed_profile(subject_type, subject_id)
    scale = ENTERPRISE_SCALE if subject_type == "enterprise" else 1
    reference = "SBX-" + hashlib.sha256(f"{subject_type}:{subject_id}".encode()).hexdigest()[:12].upper()
    return BureauReport(
        subject_type=subject_type,
        subject_id=subject_id,
        bureau=bureau,
        reference=reference,
        generated_at=now or datetime.now(timezone.utc),
        identity_matched=profile.identity_reason is None,
        identity_reason=profile.identity_reason,
        score=profile.score,
        open_debts=tuple(OpenDebt(kind, lender, balance * scale) for kind, lender, balance in profile.debts),
        overdue_count_6m=profile.overdue_6m[0],
        overdue_amount_6m=profile.overdue_6m[1] * scale,
        overdue_count_24m=profile.overdue_24m[0],
        overdue_amount_24m=profile.overdue_24m[1] * scale,
        court_judgment=profile.court_judgment,
        blacklisted=profile.blacklisted,
    )


class SandboxSettings(Schema):
    #: Simulate an outage: every call raises BureauUnavailable (for drills and tests).
    outage = fields.Bool(load_default=False)


class SandboxBureau(CreditBureau):
    name = "sandbox"
    title = "Sandbox bureau with synthetic reports"
    settings_schema = SandboxSettings

    def _check_outage(self):
        if self.settings["outage"]:
            raise BureauUnavailable("sandbox bureau outage (settings.outage is on)")

    def verify_identity(self, name: str, id_number: str) -> IdentityCheck:
        self._check_outage()
        sequence = id_number[14:17]
        if sequence == "999":
            return IdentityCheck(False, "not_found")
        if sequence == "998":
            return IdentityCheck(False, "name_mismatch")
        return IdentityCheck(True)

    def fetch_report(self, subject_type: str, subject_id: str, *, name: str | None = None) -> BureauReport:
        self._check_outage()
        return synthetic_report(subject_type, subject_id, bureau=self.name)
