"""The gate of each delivery stage: what must be true before a tenant enters it.

Each check says what it looked at and why it passed or failed. A check whose
part of lendkit does not exist yet fails with that reason; it never passes
by default.
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
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
#: The provider families as the checks name them, translated (:data:`PROVIDER_FAMILIES` holds them in English).
FAMILY_LABELS = {"custody": _l("custody bank"), "sms": _l("SMS provider"), "credit_bureau": _l("credit bureau")}


def _label(family: str):
    return FAMILY_LABELS.get(family, PROVIDER_FAMILIES[family])


def _page(tenant: Tenant, path: str):
    """GET ``path`` on the tenant's site, in an app context of its own: the page's request binds its
    tenant and locale on ``g``, which must not leak into the caller (a vendor console page would go on
    in the tenant's locale and navigation, the CLI in the tenant's language)."""
    host = next((h.host for h in tenant.hosts), None)
    app = current_app._get_current_object()
    with app.app_context():
        response = app.test_client().get(path, headers={"Host": host})
        response.get_data()  # read while the page's context is there
    return response


@gate("demo")
def demo_gate(tenant: Tenant) -> list[Check]:
    from markupsafe import escape

    checks = []
    response = _page(tenant, "/")
    text = response.get_data(as_text=True)
    named = tenant.name in text or str(escape(tenant.name)) in text
    checks.append(
        Check(
            _l("home page renders"),
            response.status_code == 200 and named,
            _l("GET %(path)s answered %(status)d", path="/", status=response.status_code) if named
            else _l("GET %(path)s answered %(status)d, without the name %(name)s",
                    path="/", status=response.status_code, name=repr(tenant.name)),
        )
    )
    from core.notices.models import Notice

    with tenant_context(tenant):
        notices = db.session.scalar(select(func.count()).select_from(Notice))
    checks.append(Check(_l("demo data loaded"), notices > 0,
                        _l("%(count)d notices", count=notices) if notices
                        else _l("%(count)d notices; run %(command)s", count=notices, command="`lendkit tenant seed`")))
    response = _page(tenant, "/loans")
    checks.append(Check(_l("the loan listings render"), response.status_code == 200,
                        _l("GET %(path)s answered %(status)d", path="/loans", status=response.status_code)))
    from core.lending.models import Loan

    with tenant_context(tenant):
        listing = db.session.scalar(select(Loan.id).where(Loan.status == "listed").order_by(Loan.id).limit(1))
    if listing is None:
        detail = (_l("no loan is listed; run %(command)s", command=f"`lendkit tenant seed {tenant.slug}`")
                  if tenant.config["providers"]["custody"]["name"] == "sandbox"
                  else _l("no loan is listed; demo listings need the sandbox custody bank: demo the site on it, "
                          "or list a loan"))
        checks.append(Check(_l("a listing renders"), False, detail))
    else:
        response = _page(tenant, f"/loans/{listing}")
        checks.append(Check(_l("a listing renders"), response.status_code == 200,
                            _l("GET %(path)s answered %(status)d", path=f"/loans/{listing}", status=response.status_code)))
    return checks


@gate("confirmed")
def confirmed_gate(tenant: Tenant) -> list[Check]:
    from core.delivery.models import SignOff

    sign_off = db.session.scalar(
        select(SignOff).where(SignOff.tenant_id == tenant.id).order_by(SignOff.signed_at.desc(), SignOff.id.desc())
    )
    if sign_off is None:
        return [Check(_l("sign-off recorded"), False, _l("none; record it with %(command)s",
                                                         command=f"`lendkit tenant sign-off {tenant.slug} --by NAME`"))]
    checks = [Check(_l("sign-off recorded"), True,
                    _l("by %(signatory)s on %(date)s, recorded by %(operator)s", signatory=sign_off.signed_by,
                       date=f"{sign_off.signed_at:%Y-%m-%d}", operator=sign_off.recorded_by))]
    requirements = tenant_folder(tenant) / "requirements.yaml"
    current = file_digest(requirements) if requirements.is_file() else None
    checks.append(
        Check(
            _l("requirements unchanged since sign-off"),
            current == sign_off.requirements_digest,
            _l("signed %(signed)s, now %(now)s", signed=sign_off.requirements_digest[:12],
               now=current[:12] if current else _l("(missing)")),
        )
    )
    checks.append(
        Check(
            _l("demo unchanged since sign-off"),
            demo_version(tenant) == sign_off.demo_version,
            _l("signed %(signed)s, now %(now)s", signed=sign_off.demo_version, now=demo_version(tenant)),
        )
    )
    return checks


@gate("configured")
def configured_gate(tenant: Tenant) -> list[Check]:
    checks = []
    try:
        load_tenant_folder(tenant_folder(tenant), provider_registry())
        checks.append(Check(_l("tenant.yaml valid (branding, providers)"), True, _l("validated")))
    except TenantConfigError as exc:
        checks.append(Check(_l("tenant.yaml valid (branding, providers)"), False, str(exc)))
    registry = provider_registry()
    for family in PROVIDER_FAMILIES:
        label = _label(family)
        choice = tenant.config["providers"][family]
        name = choice["name"]
        production = name not in DEVELOPMENT_PROVIDERS[family]
        checks.append(Check(_l("production %(provider)s chosen", provider=label), production,
                            name if production else _l("%(name)s is for development and demos only", name=name)))
        reachable = _l("%(provider)s reachable", provider=label)
        provider_class = registry.get(family, {}).get(name)
        if provider_class is None:
            checks.append(Check(reachable, False, _l("provider %(name)s is not installed", name=repr(name))))
            continue
        try:
            provider = provider_class(choice.get("settings", {}), tenant_slug=tenant.slug)
            check = getattr(provider, "check", None)
            if check is None:
                checks.append(Check(reachable, False, _l("%(name)s offers no reachability check", name=name)))
            else:
                check()
                checks.append(Check(reachable, True, _l("%(name)s answered", name=name)))
        except Exception as exc:  # any failure to reach the provider is a failed check
            checks.append(Check(reachable, False, f"{name}: {exc}"))
    from core.custody.models import CustodyInstruction
    from core.ledger.models import JournalEntry
    from core.lending.models import Loan

    with tenant_context(tenant):
        entries, instructions, loans = (db.session.scalar(select(func.count()).select_from(model))
                                        for model in (JournalEntry, CustodyInstruction, Loan))
    left = [str(text) for count, text in ((entries, _l("%(count)d ledger entries", count=entries)),
                                          (instructions, _l("%(count)d bank instructions", count=instructions)),
                                          (loans, _l("%(count)d loans", count=loans))) if count]
    clean = not left
    checks.append(Check(
        _l("no demo money or loans left"), clean,
        _l("the books start empty") if clean
        else _l("%(left)s; %(command)s before choosing real providers", left=", ".join(left),
                command=f"`lendkit tenant clear-demo {tenant.slug} --confirm {tenant.slug}`")))
    from marshmallow import ValidationError

    from core.lending.products import validate_products

    products = tenant.config.get("products") or []
    try:
        validate_products(products)
        problem = "" if products else _l("no loan products configured")
    except ValidationError as exc:
        problem = "; ".join(f"products.{index}.{field}: {' '.join(map(str, messages))}"
                            for index, fields in exc.messages.items() for field, messages in fields.items())
    checks.append(Check(_l("loan products valid"), not problem,
                        problem or _l("%(count)d products, each consistent", count=len(products))))
    return checks


@gate("tested")
def tested_gate(tenant: Tenant) -> list[Check]:
    """The recorded acceptance run of the tenant's current configuration (``lendkit tenant accept``)."""
    from core.delivery.acceptance import latest_run

    run = latest_run(tenant)
    command = f"`lendkit tenant accept {tenant.slug}`"
    passes = _l("acceptance suite passes")
    if run is None:
        return [Check(passes, False, _l("the acceptance suite has not run; %(command)s or the vendor console runs it",
                                        command=command))]
    if run.finished_at is None:
        return [Check(passes, False,
                      _l("run %(id)d by %(actor)s is running since %(when)s; look again when it is done",
                         id=run.id, actor=run.actor, when=f"{run.started_at:%Y-%m-%d %H:%M}"))]
    if run.config_digest != configuration_digest(tenant):
        return [Check(passes, False,
                      _l("the configuration changed since the run of %(when)s; "
                         "%(command)s or the vendor console runs it again",
                         when=f"{run.finished_at:%Y-%m-%d %H:%M}", command=command))]
    checks = [Check(_l("acceptance: %(scenario)s", scenario=s["name"]), s["passed"], s["detail"]) for s in run.scenarios]
    checks.append(Check(passes, run.passed,
                        _l("run %(id)d of %(when)s by %(actor)s: %(passed)d of %(count)d checks passed",
                           id=run.id, when=f"{run.finished_at:%Y-%m-%d %H:%M}", actor=run.actor,
                           passed=sum(s["passed"] for s in run.scenarios), count=len(run.scenarios))))
    return checks


@gate("delivered")
def delivered_gate(tenant: Tenant) -> list[Check]:
    folder = tenant_folder(tenant) / "manuals"
    checks = []
    for name in ("operations-manual", "admin-guide"):
        for suffix in ("html", "pdf"):
            path = folder / f"{name}.{suffix}"
            shown = str(path.relative_to(tenant_folder(tenant).parent))
            checks.append(Check(_l("%(file)s generated", file=f"{name}.{suffix}"), path.is_file(),
                                shown if path.is_file() else _l("%(path)s missing", path=shown)))
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
            detail = (_l("%(enrolled)d of %(count)d with two-factor sign-in", enrolled=len(enrolled), count=len(users))
                      if users else _l("nobody holds %(role)s; %(command)s", role=role,
                                       command=f"`lendkit staff create --tenant {tenant.slug} --role {role}`"))
            checks.append(Check(_l("%(role)s with two-factor sign-in", role=role), bool(enrolled), detail))
    return checks


@gate("data_loaded")
def data_loaded_gate(tenant: Tenant) -> list[Check]:
    from core.delivery.importer import BankUnreachable, reconcile_imported
    from core.delivery.models import ImportBatch

    with tenant_context(tenant):
        batches = db.session.scalars(select(ImportBatch).order_by(ImportBatch.id)).all()
        imported = _l("base data imported")
        if not batches:
            return [Check(imported, False, _l("no import yet; %(command)s", command=(
                f"`lendkit tenant import {tenant.slug} --users users.csv --loans loans.csv --repayments repayments.csv`")))]
        created = {kind: sum(b.created.get(kind, 0) for b in batches) for kind in ("user", "loan", "repayment")}
        last = batches[-1]
        if not any(b.files for b in batches):
            return [Check(imported, True, _l("the client brings no base data (recorded on %(date)s by %(operator)s)",
                                             date=f"{last.imported_at:%Y-%m-%d}", operator=last.operator))]
        checks = [Check(imported, True,
                        _l("%(count)d import(s), the last on %(date)s by %(operator)s: "
                           "%(users)d users, %(loans)d loans, %(repayments)d repayments",
                           count=len(batches), date=f"{last.imported_at:%Y-%m-%d}", operator=last.operator,
                           users=created["user"], loans=created["loan"], repayments=created["repayment"]))]
        agree = _l("imported balances agree with the bank")
        try:
            accounts = reconcile_imported(tenant)
        except BankUnreachable as exc:
            return checks + [Check(agree, False, _l("the custody bank (%(provider)s) cannot be asked: %(reason)s",
                                                    provider=exc.provider, reason=exc.reason))]
        differing = [a for a in accounts if not a.agrees]
        if differing:
            first = differing[0]
            values = {"count": len(differing), "total": len(accounts), "external_id": first.external_id,
                      "account": first.account, "ledger": f"{first.ledger[0]}/{first.ledger[1]}"}
            if first.bank is None:
                detail = _l("%(count)d of %(total)d sub-accounts differ; %(external_id)s (%(account)s): "
                            "ledger %(ledger)s, no such sub-account (available/frozen)", **values)
            else:
                detail = _l("%(count)d of %(total)d sub-accounts differ; %(external_id)s (%(account)s): "
                            "ledger %(ledger)s, bank %(bank)s (available/frozen)",
                            bank=f"{first.bank[0]}/{first.bank[1]}", **values)
        else:
            detail = (_l("%(count)d imported sub-accounts agree with the bank", count=len(accounts)) if accounts
                      else _l("no users were imported, so no balances to compare"))
        checks.append(Check(agree, not differing, detail))
        return checks


@gate("live")
def live_gate(tenant: Tenant) -> list[Check]:
    config = current_app.config
    checks = []
    for family in PROVIDER_FAMILIES:
        name = tenant.config["providers"][family]["name"]
        ok = name not in DEVELOPMENT_PROVIDERS[family]
        checks.append(Check(_l("no sandbox %(provider)s", provider=_label(family)), ok, name))
    production = config["LENDKIT_ENV"] == "production"
    checks.append(Check(_l("running in production mode"), production, f"LENDKIT_ENV={config['LENDKIT_ENV']}"))
    public_hosts = [h.host for h in tenant.hosts if not h.host.endswith((".localhost", ".test", ".example", ".invalid"))]
    checks.append(Check(_l("public host names"), bool(public_hosts),
                        ", ".join(public_hosts) or _l("only development host names")))
    secure = bool(config.get("SESSION_COOKIE_SECURE"))
    checks.append(Check(_l("HTTPS only (secure cookies)"), secure, _l("SESSION_COOKIE_SECURE is %(value)s", value=str(secure))))
    real_key = config["SECRET_KEY"] != DEV_SECRET_KEY and len(config["SECRET_KEY"]) >= 32
    checks.append(Check(_l("secret key set"), real_key,
                        _l("LENDKIT_SECRET_KEY set") if real_key else _l("LENDKIT_SECRET_KEY is missing or the development key")))
    from core.credit.compliance import config_problems

    pack = tenant.config.get("compliance") or "none"
    problems = config_problems(tenant.config)
    checks.append(Check(_l("compliance pack %(pack)s passes", pack=pack), not problems,
                        "; ".join(f"{field}: {problem}" for field, problem in problems.items())
                        or _l("the configuration complies")))
    backups = config.get("LENDKIT_BACKUP_TARGET") or ""
    checks.append(Check(_l("backups configured"), bool(backups),
                        backups or _l("set LENDKIT_BACKUP_TARGET to where nightly backups go")))
    legal = tenant_folder(tenant) / "legal"
    for locale in tenant.locales:
        titles = {"terms": _l("terms (%(locale)s) present", locale=locale),
                  "privacy": _l("privacy (%(locale)s) present", locale=locale)}
        for document, title in titles.items():
            present = any((legal / f"{document}.{locale}.{ext}").is_file() for ext in ("md", "html"))
            checks.append(Check(title, present, f"legal/{document}.{locale}.md"))
        present = (legal / f"loan_contract.{locale}.html").is_file()
        checks.append(Check(_l("loan contract template (%(locale)s) present", locale=locale), present,
                            f"legal/loan_contract.{locale}.html"))
    return checks


#: A reconciliation run's status as a check shows it (:data:`core.custody.models.RUN_STATUSES`).
RUN_STATUS_NAMES = {"clean": _l("clean"), "differences": _l("differences")}


@gate("operating")
def operating_gate(tenant: Tenant) -> list[Check]:
    from core.custody.models import ReconciliationRun

    with tenant_context(tenant):
        first = db.session.scalar(select(ReconciliationRun).order_by(ReconciliationRun.day, ReconciliationRun.id))
        clean = _l("first day's reconciliation clean")
        if first is None:
            return [Check(clean, False, _l("no reconciliation yet; %(command)s",
                                           command=f"`lendkit reconcile --tenant {tenant.slug} --date YYYY-MM-DD`"))]
        latest = db.session.scalar(
            select(ReconciliationRun).where(ReconciliationRun.day == first.day).order_by(ReconciliationRun.id.desc())
        )
        return [Check(clean, latest.status == "clean",
                      _l("%(day)s: %(status)s, %(count)d differences", day=str(latest.day),
                         status=RUN_STATUS_NAMES.get(latest.status, latest.status), count=latest.difference_count))]
