"""The delivery stages and their gates.

``requirements → demo → confirmed → configured → tested → delivered → trained
→ data_loaded → live → operating``. A tenant moves to the next stage only when
that stage's gate passes; every check is reported with pass/fail and why, and
every change is recorded (:class:`~core.delivery.models.StageChange`) and
announced through the ``tenant_stage_changed`` hook. A stage can be sent back
with a reason.

A gate is a function ``gate(tenant) -> list[Check]`` registered with
:func:`gate`. Gates whose parts have not been built yet report a failing
check saying so, rather than passing silently.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l

from core.extensions import db
from core.tenancy.models import Tenant

STAGES = (
    "requirements",
    "demo",
    "confirmed",
    "configured",
    "tested",
    "delivered",
    "trained",
    "data_loaded",
    "live",
    "operating",
)

#: Each stage as people read it on the console, translated; the identifiers above stay what the CLI takes,
#: what stage history stores and what the API returns.
STAGE_LABELS = {
    "requirements": _l("requirements"),
    "demo": _l("demo"),
    "confirmed": _l("confirmed"),
    "configured": _l("configured"),
    "tested": _l("tested"),
    "delivered": _l("delivered"),
    "trained": _l("trained"),
    "data_loaded": _l("data_loaded"),
    "live": _l("live"),
    "operating": _l("operating"),
}


def stage_label(stage: str) -> str:
    """``stage`` in the reader's language (an unknown name as it is)."""
    return str(STAGE_LABELS.get(stage, stage))


class StageError(Exception):
    """A stage change that cannot happen; the message says why."""


@dataclass(frozen=True)
class Check:
    """One line of a gate. Gates give ``name`` and ``detail`` as lazy translations
    (``lazy_gettext``); :func:`run_gate` hands them on as plain strings."""

    name: str
    passed: bool
    detail: str = ""

    def plain(self) -> "Check":
        """This check with ``name`` and ``detail`` as ``str``, translated into the current locale."""
        return replace(self, name=str(self.name), detail=str(self.detail))

    def as_dict(self) -> dict:
        """``{"name", "passed", "detail"}`` of plain values, as :class:`StageChange` stores it."""
        return {"name": str(self.name), "passed": bool(self.passed), "detail": str(self.detail)}


GATES: dict[str, Callable[[Tenant], list[Check]]] = {}


def gate(stage: str):
    """Register the gate a tenant must pass to enter ``stage``."""

    def register(function):
        GATES[stage] = function
        return function

    return register


def next_stage(stage: str) -> str | None:
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


def tenant_folder(tenant: Tenant) -> Path:
    return Path(current_app.config["LENDKIT_TENANTS_DIR"]) / tenant.slug


def run_gate(tenant: Tenant, stage: str) -> list[Check]:
    """The checks of ``stage``'s gate, their texts translated into the current locale as plain strings
    (safe to escape in a page, print or store)."""
    function = GATES.get(stage)
    if function is None:
        return [Check(_l("gate"), False, _l("no gate is defined for %(stage)s", stage=stage)).plain()]
    try:
        return [check.plain() for check in function(tenant)]
    except Exception as exc:  # a gate that crashes fails, it never passes
        return [Check(_l("gate"), False, _l("the gate failed to run: %(error)s",
                                            error=f"{type(exc).__name__}: {exc}")).plain()]


def _record(tenant: Tenant, to_stage: str, action: str, actor: str, reason: str, checks: list[Check]):
    from core.delivery.models import StageChange
    from core.plugins import get_plugin_manager

    old = tenant.stage
    db.session.add(
        StageChange(
            tenant_id=tenant.id, from_stage=old, to_stage=to_stage, action=action,
            actor=actor, reason=reason, checks=[c.as_dict() for c in checks],
        )
    )
    tenant.stage = to_stage
    get_plugin_manager().hook.tenant_stage_changed(tenant=tenant, old_stage=old, new_stage=to_stage, actor=actor, reason=reason)
    db.session.commit()


def advance(tenant: Tenant, actor: str) -> tuple[bool, str | None, list[Check]]:
    """Try to move ``tenant`` to its next stage; returns (moved, target, checks)."""
    target = next_stage(tenant.stage)
    if target is None:
        raise StageError(_l("%(tenant)s is already %(stage)s, the last stage", tenant=tenant.slug,
                            stage=stage_label(tenant.stage)))
    checks = run_gate(tenant, target)
    passed = bool(checks) and all(c.passed for c in checks)
    if passed:
        _record(tenant, target, "advance", actor, "", checks)
    return passed, target, checks


def send_back(tenant: Tenant, to_stage: str, actor: str, reason: str) -> None:
    """Return ``tenant`` to an earlier stage; the reason is required and recorded."""
    if to_stage not in STAGES:
        raise StageError(_l("unknown stage %(stage)s (stages: %(stages)s)", stage=repr(to_stage),
                            stages=", ".join(STAGES)))
    if STAGES.index(to_stage) >= STAGES.index(tenant.stage):
        raise StageError(_l("%(stage)s is not earlier than %(current)s", stage=stage_label(to_stage),
                            current=stage_label(tenant.stage)))
    if not reason.strip():
        raise StageError(_l("a reason is required to send a tenant back"))
    _record(tenant, to_stage, "send_back", actor, reason.strip(), [])


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def configuration_digest(tenant: Tenant) -> str:
    """SHA-256 of what the tenant's lending runs on: its effective configuration (``tenant.yaml`` with the
    admin console's changes to branding, products and rules; providers left out, they change at the
    configured stage) and its loan contract templates."""
    import json

    config = {key: value for key, value in tenant.config.items() if key != "providers"}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode("utf-8"))
    legal = tenant_folder(tenant) / "legal"
    if legal.is_dir():
        for path in sorted(legal.glob("loan_contract.*.html")):
            digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


def demo_version(tenant: Tenant) -> str:
    return f"lendkit {version('lendkit')} / configuration {configuration_digest(tenant)[:12]}"


def record_sign_off(tenant: Tenant, signed_by: str, recorded_by: str):
    """Record the client's sign-off of the requirements and the demo they saw."""
    from core.delivery.models import SignOff

    if tenant.stage != "demo":
        raise StageError(_l("a sign-off is recorded at the %(demo)s stage; %(tenant)s is %(stage)s",
                            demo=stage_label("demo"), tenant=tenant.slug, stage=stage_label(tenant.stage)))
    requirements = tenant_folder(tenant) / "requirements.yaml"
    if not requirements.is_file():
        raise StageError(_l("%(path)s is missing; there is nothing to sign off",
                            path=f"tenants/{tenant.slug}/requirements.yaml"))
    if not signed_by.strip():
        raise StageError(_l("the signatory's name is required"))
    sign_off = SignOff(
        tenant_id=tenant.id, signed_by=signed_by.strip(), recorded_by=recorded_by,
        requirements_digest=file_digest(requirements), demo_version=demo_version(tenant),
    )
    db.session.add(sign_off)
    db.session.commit()
    return sign_off
