"""Compliance rule packs: regulatory borrowing caps and configuration rules, per market.

A tenant chooses its pack in ``tenant.yaml`` (``compliance: cn-2016``; default
``none``). Packs are registered by plugins through the
``register_compliance_packs`` hook as ``{name: pack}``; the core's own
(``cn-2016``, ``none``) live in :mod:`core.credit.packs`.

A pack is a :class:`CompliancePack`:

* :meth:`CompliancePack.caps` — the borrowing caps for a person or an
  enterprise, each a :class:`Cap` naming its rule, on this platform or across
  all platforms;
* :meth:`CompliancePack.check_config` — problems with a tenant's loaded
  configuration, ``{field: "rule: why"}``, checked when the tenant is loaded.

:func:`check_borrowing` applies a pack's caps to plain figures and returns a
:class:`Decision` that, when it refuses, names the rule and the figures.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.credit.report import SUBJECT_TYPES
from core.money import from_minor

#: Cap scopes: what a borrower owes on this platform, or on every platform together.
PLATFORM, ALL_PLATFORMS = "platform", "all_platforms"


@dataclass(frozen=True)
class Cap:
    """At most ``limit`` (minor units of ``currency``) owed by one borrower, under ``rule``."""

    rule: str  # e.g. "cn-2016 §17"
    scope: str  # PLATFORM or ALL_PLATFORMS
    limit: int
    currency: str = "CNY"


class CompliancePack:
    """Base class of compliance rule packs."""

    #: The name a ``tenant.yaml`` uses under ``compliance``.
    name: str = ""
    #: One line for staff and the docs.
    title: str = ""

    def caps(self, borrower_type: str) -> tuple[Cap, ...]:
        """The borrowing caps of a ``person`` or an ``enterprise``; none by default."""
        return ()

    def check_config(self, config: dict) -> dict[str, str]:
        """Problems with a tenant's loaded configuration: ``{"risk.x": "cn-2016 §10: …"}``."""
        return {}


@dataclass(frozen=True)
class Decision:
    """Whether a borrower may owe ``requested`` more, and if not, under which rule."""

    allowed: bool
    #: The most the borrower may still borrow under every cap; None when no cap applies.
    headroom: int | None
    #: When refused: the rule (``cn-2016 §17``), the cap's scope and limit, what is owed under it.
    rule: str | None = None
    scope: str | None = None
    cap: int | None = None
    owed: int | None = None
    requested: int = 0
    #: When refused: one line naming the rule and the figures (translated when rendered).
    message: object = ""

    def __bool__(self) -> bool:
        return self.allowed


def _major(amount: int, currency: str) -> str:
    """``20000000`` → ``200,000.00`` (locale-independent, exact)."""
    return f"{from_minor(amount, currency):,}"


def _refusal_message(cap: Cap, borrower_type: str, owed_here: int, owed_elsewhere: int, requested: int):
    figures = dict(
        rule=cap.rule,
        currency=cap.currency,
        cap=_major(cap.limit, cap.currency),
        owed=_major(owed_here if cap.scope == PLATFORM else owed_here + owed_elsewhere, cap.currency),
        here=_major(owed_here, cap.currency),
        elsewhere=_major(owed_elsewhere, cap.currency),
        requested=_major(requested, cap.currency),
    )
    if cap.scope == PLATFORM and borrower_type == "person":
        return _l("%(rule)s: a person may owe at most %(currency)s %(cap)s on one platform; "
                  "owes %(owed)s, asks %(requested)s", **figures)
    if cap.scope == PLATFORM:
        return _l("%(rule)s: an enterprise may owe at most %(currency)s %(cap)s on one platform; "
                  "owes %(owed)s, asks %(requested)s", **figures)
    if borrower_type == "person":
        return _l("%(rule)s: a person may owe at most %(currency)s %(cap)s across all platforms; "
                  "owes %(owed)s (%(here)s here, %(elsewhere)s elsewhere), asks %(requested)s", **figures)
    return _l("%(rule)s: an enterprise may owe at most %(currency)s %(cap)s across all platforms; "
              "owes %(owed)s (%(here)s here, %(elsewhere)s elsewhere), asks %(requested)s", **figures)


def _amount(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int in minor units, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_borrowing(pack, borrower_type: str, owed_here: int, owed_elsewhere: int, requested: int) -> Decision:
    """May a borrower who owes ``owed_here`` on this platform and ``owed_elsewhere`` on other
    platforms (the bureau's cross-platform balance) borrow ``requested`` more under ``pack``?

    ``pack`` is a :class:`CompliancePack` or a registered pack's name. Amounts
    are ints in the pack's currency's minor unit. Being exactly at a cap is
    allowed; one minor unit over is refused, naming the first cap broken
    (platform caps before cross-platform ones).
    """
    if isinstance(pack, str):
        pack = get_pack(pack)
    if borrower_type not in SUBJECT_TYPES:
        raise ValueError(f"borrower_type must be one of {SUBJECT_TYPES}, got {borrower_type!r}")
    owed_here = _amount(owed_here, "owed_here")
    owed_elsewhere = _amount(owed_elsewhere, "owed_elsewhere")
    requested = _amount(requested, "requested")
    caps = sorted(pack.caps(borrower_type), key=lambda c: c.scope != PLATFORM)
    headroom = None
    for cap in caps:
        owed = owed_here if cap.scope == PLATFORM else owed_here + owed_elsewhere
        room = max(cap.limit - owed, 0)
        headroom = room if headroom is None else min(headroom, room)
    for cap in caps:
        owed = owed_here if cap.scope == PLATFORM else owed_here + owed_elsewhere
        if owed + requested > cap.limit:
            return Decision(
                allowed=False, headroom=headroom, rule=cap.rule, scope=cap.scope, cap=cap.limit, owed=owed,
                requested=requested,
                message=_refusal_message(cap, borrower_type, owed_here, owed_elsewhere, requested),
            )
    return Decision(allowed=True, headroom=headroom, requested=requested)


def compliance_packs() -> dict[str, CompliancePack]:
    """``{name: pack}`` over every plugin; a name registered twice is an error."""
    from core.plugins import get_plugin_manager

    found: dict[str, CompliancePack] = {}
    for impl in get_plugin_manager().hook.register_compliance_packs.get_hookimpls():
        for name, pack in (impl.function() or {}).items():
            if name in found:
                raise RuntimeError(f"compliance pack {name!r} registered twice (plugin {impl.plugin_name})")
            found[name] = pack
    return found


def get_pack(name: str) -> CompliancePack:
    """The registered pack called ``name``; KeyError naming the available ones."""
    packs = compliance_packs()
    try:
        return packs[name]
    except KeyError:
        raise KeyError(f"no compliance pack named {name!r} (available: {', '.join(sorted(packs)) or 'none'})") from None


def tenant_pack(tenant) -> CompliancePack:
    """The pack a tenant chose (``none`` when its stored config predates the setting)."""
    return get_pack(tenant.config.get("compliance") or "none")


def config_problems(config: dict) -> dict[str, str]:
    """Problems with a loaded tenant config's compliance choice: the pack exists and accepts it."""
    name = config.get("compliance") or "none"
    packs = compliance_packs()
    pack = packs.get(name)
    if pack is None:
        return {"compliance": _("no compliance pack named %(name)s (available: %(names)s)",
                                name=repr(name), names=", ".join(sorted(packs)) or "none")}
    return dict(pack.check_config(config))
