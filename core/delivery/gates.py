"""The gate of each delivery stage: what must be true before a tenant enters it.

Each check says what it looked at and why it passed or failed. A check whose
part of lendkit does not exist yet fails with that reason; it never passes
by default.
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from core.config import DEV_SECRET_KEY
from core.delivery.stages import Check, configuration_digest, demo_version, file_digest, gate, tenant_folder
from core.extensions import db
from core.plugins import provider_registry
from core.tenancy import tenant_context
from core.tenancy.config import PROVIDER_FAMILIES, TenantConfigError, load_tenant_folder
from core.tenancy.models import Tenant

#: Providers meant for development and demos only.
DEVELOPMENT_PROVIDERS = {"custody": {"sandbox"}, "sms": {"console"}, "credit_bureau": {"sandbox"}}


def _page(tenant: Tenant, path: str):
    host = next((h.host for h in tenant.hosts), None)
    client = current_app.test_client()
    return client.get(path, headers={"Host": host})


@gate("demo")
def demo_gate(tenant: Tenant) -> list[Check]:
    from markupsafe import escape

    checks = []
    response = _page(tenant, "/")
    text = response.get_data(as_text=True)
    named = tenant.name in text or str(escape(tenant.name)) in text
    checks.append(
        Check(
            "home page renders",
            response.status_code == 200 and named,
            f"GET / answered {response.status_code}" + ("" if named else f", without the name {tenant.name!r}"),
        )
    )
    from core.notices.models import Notice

    with tenant_context(tenant):
        notices = db.session.scalar(select(func.count()).select_from(Notice))
    checks.append(Check("demo data loaded", notices > 0, f"{notices} notices" + ("" if notices else "; run `lendkit tenant seed`")))
    response = _page(tenant, "/loans")
    checks.append(Check("the loan listings render", response.status_code == 200, f"GET /loans answered {response.status_code}"))
    from core.lending.models import Loan

    with tenant_context(tenant):
        listing = db.session.scalar(select(Loan.id).where(Loan.status == "listed").order_by(Loan.id).limit(1))
    if listing is None:
        hint = (f"run `lendkit tenant seed {tenant.slug}`" if tenant.config["providers"]["custody"]["name"] == "sandbox"
                else "demo listings need the sandbox custody bank: demo the site on it, or list a loan")
        checks.append(Check("a listing renders", False, f"no loan is listed; {hint}"))
    else:
        response = _page(tenant, f"/loans/{listing}")
        checks.append(Check("a listing renders", response.status_code == 200, f"GET /loans/{listing} answered {response.status_code}"))
    return checks


@gate("confirmed")
def confirmed_gate(tenant: Tenant) -> list[Check]:
    from core.delivery.models import SignOff

    sign_off = db.session.scalar(
        select(SignOff).where(SignOff.tenant_id == tenant.id).order_by(SignOff.signed_at.desc(), SignOff.id.desc())
    )
    if sign_off is None:
        return [Check("sign-off recorded", False, f"none; record it with `lendkit tenant sign-off {tenant.slug} --by NAME`")]
    checks = [Check("sign-off recorded", True, f"by {sign_off.signed_by} on {sign_off.signed_at:%Y-%m-%d}, recorded by {sign_off.recorded_by}")]
    requirements = tenant_folder(tenant) / "requirements.yaml"
    current = file_digest(requirements) if requirements.is_file() else "(missing)"
    checks.append(
        Check(
            "requirements unchanged since sign-off",
            current == sign_off.requirements_digest,
            f"signed {sign_off.requirements_digest[:12]}, now {current[:12]}",
        )
    )
    checks.append(
        Check(
            "demo unchanged since sign-off",
            demo_version(tenant) == sign_off.demo_version,
            f"signed {sign_off.demo_version}, now {demo_version(tenant)}",
        )
    )
    return checks


@gate("configured")
def configured_gate(tenant: Tenant) -> list[Check]:
    checks = []
    try:
        load_tenant_folder(tenant_folder(tenant), provider_registry())
        checks.append(Check("tenant.yaml valid (branding, providers)", True, "validated"))
    except TenantConfigError as exc:
        checks.append(Check("tenant.yaml valid (branding, providers)", False, str(exc)))
    registry = provider_registry()
    for family, label in PROVIDER_FAMILIES.items():
        choice = tenant.config["providers"][family]
        name = choice["name"]
        production = name not in DEVELOPMENT_PROVIDERS[family]
        checks.append(Check(f"production {label} chosen", production, f"{name}" + ("" if production else " is for development and demos only")))
        provider_class = registry.get(family, {}).get(name)
        if provider_class is None:
            checks.append(Check(f"{label} reachable", False, f"provider {name!r} is not installed"))
            continue
        try:
            provider = provider_class(choice.get("settings", {}), tenant_slug=tenant.slug)
            check = getattr(provider, "check", None)
            if check is None:
                checks.append(Check(f"{label} reachable", False, f"{name} offers no reachability check"))
            else:
                check()
                checks.append(Check(f"{label} reachable", True, f"{name} answered"))
        except Exception as exc:  # any failure to reach the provider is a failed check
            checks.append(Check(f"{label} reachable", False, f"{name}: {exc}"))
    from core.custody.models import CustodyInstruction
    from core.ledger.models import JournalEntry
    from core.lending.models import Loan

    with tenant_context(tenant):
        left = {name: db.session.scalar(select(func.count()).select_from(model))
                for name, model in (("ledger entries", JournalEntry), ("bank instructions", CustodyInstruction),
                                    ("loans", Loan))}
    clean = not any(left.values())
    checks.append(Check("no demo money or loans left", clean,
                        "the books start empty" if clean else ", ".join(f"{n} {k}" for k, n in left.items() if n)
                        + f"; `lendkit tenant clear-demo {tenant.slug} --confirm {tenant.slug}` before choosing real providers"))
    from marshmallow import ValidationError

    from core.lending.products import validate_products

    products = tenant.config.get("products") or []
    try:
        validate_products(products)
        problem = "" if products else "no loan products configured"
    except ValidationError as exc:
        problem = "; ".join(f"products.{index}.{field}: {' '.join(map(str, messages))}"
                            for index, fields in exc.messages.items() for field, messages in fields.items())
    checks.append(Check("loan products valid", not problem, problem or f"{len(products)} products, each consistent"))
    return checks


@gate("tested")
def tested_gate(tenant: Tenant) -> list[Check]:
    """The recorded acceptance run of the tenant's current configuration (``lendkit tenant accept``)."""
    from core.delivery.acceptance import latest_run

    run = latest_run(tenant)
    how = f"`lendkit tenant accept {tenant.slug}` or the vendor console runs it"
    if run is None:
        return [Check("acceptance suite passes", False, f"the acceptance suite has not run; {how}")]
    if run.finished_at is None:
        return [Check("acceptance suite passes", False,
                      f"run {run.id} by {run.actor} is running since {run.started_at:%Y-%m-%d %H:%M}; "
                      f"look again when it is done")]
    if run.config_digest != configuration_digest(tenant):
        return [Check("acceptance suite passes", False,
                      f"the configuration changed since the run of {run.finished_at:%Y-%m-%d %H:%M}; {how} again")]
    checks = [Check(f"acceptance: {s['name']}", s["passed"], s["detail"]) for s in run.scenarios]
    checks.append(Check("acceptance suite passes", run.passed,
                        f"run {run.id} of {run.finished_at:%Y-%m-%d %H:%M} by {run.actor}: "
                        f"{sum(s['passed'] for s in run.scenarios)} of {len(run.scenarios)} checks passed"))
    return checks


@gate("delivered")
def delivered_gate(tenant: Tenant) -> list[Check]:
    folder = tenant_folder(tenant) / "manuals"
    checks = []
    for name in ("operations-manual", "admin-guide"):
        for suffix in ("html", "pdf"):
            path = folder / f"{name}.{suffix}"
            checks.append(Check(f"{name}.{suffix} generated", path.is_file(), str(path.relative_to(tenant_folder(tenant).parent)) + ("" if path.is_file() else " missing")))
    return checks


#: Staff roles a tenant needs before go-live when its questionnaire names none.
REQUIRED_ROLES = ("tenant_admin", "reviewer", "risk_officer", "finance")


def required_roles(tenant: Tenant) -> list[str]:
    """The roles named in the tenant's requirements.yaml ``staff`` list, else :data:`REQUIRED_ROLES`."""
    import yaml

    path = tenant_folder(tenant) / "requirements.yaml"
    if path.is_file():
        staff = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("staff") or []
        roles = sorted({s.get("role") for s in staff if isinstance(s, dict) and s.get("role")})
        if roles:
            return roles
    return list(REQUIRED_ROLES)


@gate("trained")
def trained_gate(tenant: Tenant) -> list[Check]:
    from core.accounts.models import User, UserRole

    checks = []
    with tenant_context(tenant):
        for role in required_roles(tenant):
            users = db.session.scalars(select(User).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == role)).all()
            enrolled = [u for u in users if u.totp_confirmed_at is not None]
            detail = f"{len(enrolled)} of {len(users)} with two-factor sign-in" if users else f"nobody holds {role}; `lendkit staff create --tenant {tenant.slug} --role {role}`"
            checks.append(Check(f"{role} with two-factor sign-in", bool(enrolled), detail))
    return checks


@gate("data_loaded")
def data_loaded_gate(tenant: Tenant) -> list[Check]:
    from core.delivery.importer import BankUnreachable, reconcile_imported
    from core.delivery.models import ImportBatch

    with tenant_context(tenant):
        batches = db.session.scalars(select(ImportBatch).order_by(ImportBatch.id)).all()
        if not batches:
            return [Check("base data imported", False, f"no import yet; `lendkit tenant import {tenant.slug} --users users.csv --loans loans.csv --repayments repayments.csv`")]
        created = {kind: sum(b.created.get(kind, 0) for b in batches) for kind in ("user", "loan", "repayment")}
        last = batches[-1]
        if not any(b.files for b in batches):
            return [Check("base data imported", True, f"the client brings no base data (recorded on {last.imported_at:%Y-%m-%d} by {last.operator})")]
        checks = [Check("base data imported", True, f"{len(batches)} import(s), the last on {last.imported_at:%Y-%m-%d} by {last.operator}: "
                        f"{created['user']} users, {created['loan']} loans, {created['repayment']} repayments")]
        try:
            accounts = reconcile_imported(tenant)
        except BankUnreachable as exc:
            return checks + [Check("imported balances agree with the bank", False, f"the custody bank ({exc.provider}) cannot be asked: {exc.reason}")]
        differing = [a for a in accounts if not a.agrees]
        if differing:
            first = differing[0]
            bank = "no such sub-account" if first.bank is None else f"bank {first.bank[0]}/{first.bank[1]}"
            detail = f"{len(differing)} of {len(accounts)} sub-accounts differ; {first.external_id} ({first.account}): ledger {first.ledger[0]}/{first.ledger[1]}, {bank} (available/frozen)"
        else:
            detail = f"{len(accounts)} imported sub-accounts agree with the bank" if accounts else "no users were imported, so no balances to compare"
        checks.append(Check("imported balances agree with the bank", not differing, detail))
        return checks


@gate("live")
def live_gate(tenant: Tenant) -> list[Check]:
    config = current_app.config
    checks = []
    for family, label in PROVIDER_FAMILIES.items():
        name = tenant.config["providers"][family]["name"]
        ok = name not in DEVELOPMENT_PROVIDERS[family]
        checks.append(Check(f"no sandbox {label}", ok, name))
    production = config["LENDKIT_ENV"] == "production"
    checks.append(Check("running in production mode", production, f"LENDKIT_ENV={config['LENDKIT_ENV']}"))
    public_hosts = [h.host for h in tenant.hosts if not h.host.endswith((".localhost", ".test", ".example", ".invalid"))]
    checks.append(Check("public host names", bool(public_hosts), ", ".join(public_hosts) or "only development host names"))
    checks.append(Check("HTTPS only (secure cookies)", bool(config.get("SESSION_COOKIE_SECURE")), "SESSION_COOKIE_SECURE is " + str(bool(config.get("SESSION_COOKIE_SECURE")))))
    real_key = config["SECRET_KEY"] != DEV_SECRET_KEY and len(config["SECRET_KEY"]) >= 32
    checks.append(Check("secret key set", real_key, "LENDKIT_SECRET_KEY " + ("set" if real_key else "is missing or the development key")))
    from core.credit.compliance import config_problems

    pack = tenant.config.get("compliance") or "none"
    problems = config_problems(tenant.config)
    checks.append(Check(f"compliance pack {pack} passes", not problems,
                        "; ".join(f"{field}: {problem}" for field, problem in problems.items()) or "the configuration complies"))
    backups = config.get("LENDKIT_BACKUP_TARGET") or ""
    checks.append(Check("backups configured", bool(backups), backups or "set LENDKIT_BACKUP_TARGET to where nightly backups go"))
    legal = tenant_folder(tenant) / "legal"
    for locale in tenant.locales:
        for document in ("terms", "privacy"):
            present = any((legal / f"{document}.{locale}.{ext}").is_file() for ext in ("md", "html"))
            checks.append(Check(f"{document} ({locale}) present", present, f"legal/{document}.{locale}.md"))
        present = (legal / f"loan_contract.{locale}.html").is_file()
        checks.append(Check(f"loan contract template ({locale}) present", present, f"legal/loan_contract.{locale}.html"))
    return checks


@gate("operating")
def operating_gate(tenant: Tenant) -> list[Check]:
    from core.custody.models import ReconciliationRun

    with tenant_context(tenant):
        first = db.session.scalar(select(ReconciliationRun).order_by(ReconciliationRun.day, ReconciliationRun.id))
        if first is None:
            return [Check("first day's reconciliation clean", False, f"no reconciliation yet; `lendkit reconcile --tenant {tenant.slug} --date YYYY-MM-DD`")]
        latest = db.session.scalar(
            select(ReconciliationRun).where(ReconciliationRun.day == first.day).order_by(ReconciliationRun.id.desc())
        )
        return [Check("first day's reconciliation clean", latest.status == "clean", f"{latest.day}: {latest.status}, {latest.difference_count} differences")]
