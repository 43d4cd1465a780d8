"""The acceptance suite of a tenant, generated from its own products and rules.

For every loan product and every repayment method it offers, one loan lives
its whole life: a borrower of the product's type applies for the product's
smallest amount at its shortest term, the reviewer and the risk officer
approve, investors bid under the product's bidding rules until it is funded,
it is disbursed (fees and reserve contribution taken, contracts rendered and
signed), and ``lendkit daily`` collects every installment until it is paid
off. For each product the first method's loan pays its first installment late
— past the grace days — so the overdue rules (late fee, penalty interest) run
too. After every loan the books must balance, every investor must have their
principal back, and the ledger must reconcile with the bank every day.

The rehearsal runs with the tenant's configuration — products, credit rules,
compliance pack, contract template, locales — in a throwaway database with
the sandbox bank, SMS outbox and bureau, so the tenant's real providers see
no test traffic and its real books are untouched. The outcome is recorded
(:class:`~core.delivery.models.AcceptanceRun`) against the configuration's
digest: the ``tested`` gate passes on a passing run of the current
configuration.

The outcome's texts (scenario names, steps, failure details) are written in the
language of whoever starts the run (``locale``; by default the current one) and
stored as plain strings: the console, the gate and the CLI show them as stored.
"""
from __future__ import annotations

import copy
import tempfile
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from core.extensions import db

__all__ = ["Scenario", "Outcome", "scenarios", "run_acceptance", "start_acceptance", "finish_acceptance",
           "AlreadyRunning", "latest_run", "reconcile_every_day"]

#: Settings copied from the running application into the rehearsal's.
CARRIED_SETTINGS = ("SECRET_KEY", "LENDKIT_DATA_KEY", "LENDKIT_CONTRACT_KEY", "LENDKIT_TENANTS_DIR",
                    "LENDKIT_THEMES_DIR", "LENDKIT_PLUGINS", "LENDKIT_ROOT")


@dataclass(frozen=True)
class Scenario:
    product: str
    borrower_type: str
    method: str
    months: int
    amount: int
    late: bool = False

    @property
    def name(self) -> str:
        """The scenario as a reader sees it, in the current locale."""
        values = dict(product=self.product, method=self.method, amount=self.amount)
        if self.late:
            return ngettext("%(product)s: %(method)s, %(num)d month, %(amount)s minor units, first installment paid late",
                            "%(product)s: %(method)s, %(num)d months, %(amount)s minor units, first installment paid late",
                            self.months, **values)
        return ngettext("%(product)s: %(method)s, %(num)d month, %(amount)s minor units",
                        "%(product)s: %(method)s, %(num)d months, %(amount)s minor units", self.months, **values)


@dataclass
class Outcome:
    name: str
    passed: bool = False
    detail: str = ""
    steps: list[str] = field(default_factory=list)


class ScenarioFailed(Exception):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


def acceptance_amount(product: dict) -> int:
    """The product's smallest amount that its bidding rules can fund."""
    return max(product["min_amount"], product["min_bid"])


def scenarios(config: dict) -> list[Scenario]:
    """The suite for a tenant configuration: one loan per product and repayment method."""
    suite = []
    for product in config.get("products") or []:
        months = min(product["terms_months"])
        for index, method in enumerate(product["repayment_methods"]):
            suite.append(Scenario(product=product["code"], borrower_type=product["borrower_type"], method=method,
                                  months=months, amount=acceptance_amount(product), late=index == 0))
    return suite


def reconcile_every_day() -> list:
    """Reconcile the bound tenant's ledger with the bank for every day with a movement; every difference."""
    from core.custody.reconcile import reconcile
    from core.ledger.models import JournalEntry

    days = sorted(set(db.session.scalars(select(JournalEntry.value_date).where(JournalEntry.value_date.is_not(None)))))
    differences = []
    for day in days:
        differences.extend(reconcile(day).differences)
    return differences


# --------------------------------------------------------------------- one loan's life


def describe(exc: Exception) -> str:
    """A refusal as a reader sees it, with its machine code when it has one."""
    code = getattr(exc, "code", None)
    return f"{exc} ({code})" if code else f"{type(exc).__name__}: {exc}"


def _money(amount: int, currency: str) -> str:
    from core.ledger.errors import major

    return major(amount, currency)


@dataclass
class _Life:
    """A scenario's loan while the days go by."""

    scenario: Scenario
    outcome: Outcome
    borrower: object
    loan_id: int
    product: dict
    owed: int
    #: Day the borrower's money arrives (None: before the first day).
    pays_on: object = None
    #: Day on which the first installment must be found overdue.
    check_late_on: object = None


def _list_and_fund(scenario: Scenario, cast, staff, outcome: Outcome) -> _Life:
    """Apply, approve, list, bid, disburse; check the contracts."""
    from core.delivery.rehearsal import best_profile, bids_for
    from core.lending.contracts import verify_bytes
    from core.lending.lifecycle import get_loan
    from core.lending.models import Installment, LoanContract
    from core.lending.products import product_of

    tenant = cast.tenant
    currency = tenant.currency
    step = outcome.steps.append
    product = product_of(tenant, scenario.product)
    reviewer, risk = staff
    profile = best_profile(tenant, product)  # each loan's borrower has the best grade its product serves
    _expect(profile is not None, _("the product serves no credit grade: its rates overlap no grade's band"))
    borrower = cast.user("borrower", kind=scenario.borrower_type, profile=profile)
    try:
        loan = cast.listed_loan(borrower, reviewer, risk, amount=scenario.amount, months=scenario.months,
                                method=scenario.method, product=scenario.product, purpose="Working capital")
    except Exception as exc:  # a refusal is the finding: the product cannot be lent as configured
        raise ScenarioFailed(_("the application was refused: %(reason)s", reason=describe(exc))) from exc
    _expect(loan.status == "listed", _("after both approvals the loan is %(status)s, not listed", status=loan.status))
    step(_("applied, approved by reviewer and risk officer, listed at %(rate)s (grade %(grade)s)",
           rate=loan.annual_rate, grade=loan.disclosure.get("grade")))

    bids = bids_for(loan.amount, min_bid=product["min_bid"], step=product["bid_step"],
                    max_bid=product.get("max_bid_per_investor"))
    investors = [cast.user("investor", funds=bid) for bid in bids]
    try:
        cast.fund(loan, investors, bids)
    except Exception as exc:
        raise ScenarioFailed(_("bidding failed: %(reason)s", reason=describe(exc))) from exc
    loan = get_loan(loan.id)
    _expect(loan.status == "repaying",
            _("fully bid, the loan is %(status)s, not disbursed and repaying", status=loan.status))
    step(ngettext("funded by %(num)d investor and disbursed: service fee %(fee)s, reserve contribution %(reserve)s",
                  "funded by %(num)d investors and disbursed: service fee %(fee)s, reserve contribution %(reserve)s",
                  len(investors), fee=_money(loan.service_fee, currency),
                  reserve=_money(loan.reserve_contribution, currency)))

    contracts = db.session.scalars(select(LoanContract).where(LoanContract.loan_id == loan.id)).all()
    locales = sorted(c.locale for c in contracts)
    _expect(locales == sorted(tenant.locales), _("contracts in %(locales)s, the tenant's locales are %(expected)s",
                                                 locales=str(locales), expected=str(sorted(tenant.locales))))
    for contract in contracts:
        for kind, body in (("PDF", contract.pdf), ("HTML", contract.html.encode("utf-8"))):
            verdict = verify_bytes(body)
            _expect(verdict.valid, _("the %(locale)s %(kind)s contract does not verify: %(reason)s",
                                     locale=contract.locale, kind=kind, reason=verdict.line))
    step(_("contract signed and verified in %(locales)s (HTML and PDF)", locales=", ".join(locales)))

    installments = db.session.scalars(select(Installment).where(Installment.loan_id == loan.id)
                                      .order_by(Installment.number)).all()
    _expect(sum(i.principal for i in installments) == loan.amount,
            _("the schedule's principal does not sum to the amount"))
    life = _Life(scenario, outcome, borrower, loan.id, product, owed=sum(i.total_due for i in installments))
    if scenario.late:
        # the borrower spends the proceeds, so nothing is there when the first installment falls due
        from core.wallet.service import balances, withdraw

        spent = balances(borrower.id).available
        if spent:
            withdraw(borrower.id, spent, key=f"acceptance-spend-{loan.id}")
        life.check_late_on = installments[0].due_date + timedelta(days=product["grace_days"] + 2)
        life.pays_on = life.check_late_on + timedelta(days=1)
        # penalty and late fee are owed on top: a tenth of the principal more covers them
        life.owed += product["late_fee"] + loan.amount // 10
    return life


def _check_late(life: _Life) -> None:
    from core.lending.models import Installment

    product = life.product
    first = db.session.scalar(select(Installment).where(Installment.loan_id == life.loan_id)
                              .order_by(Installment.number).limit(1))
    late_by = product["grace_days"] + 2
    _expect(first.status == "overdue", _("unpaid %(days)s days after its due date the first installment is "
                                         "%(status)s, not overdue", days=late_by, status=first.status))
    expected = product["late_fee"] > 0 or Decimal(str(product["penalty_daily_rate"])) > 0
    _expect(first.penalty + first.late_fee > 0 or not expected,
            _("no penalty interest or late fee was charged on the overdue installment"))
    life.outcome.steps.append(ngettext("first installment overdue after the %(num)d grace day: late fee %(late_fee)s, "
                                       "penalty %(penalty)s (minor units)",
                                       "first installment overdue after the %(num)d grace days: late fee %(late_fee)s, "
                                       "penalty %(penalty)s (minor units)", product["grace_days"],
                                       late_fee=first.late_fee, penalty=first.penalty))


def _check_paid_off(life: _Life) -> None:
    from core.lending.lifecycle import get_loan
    from core.lending.models import Claim, Distribution, Repayment

    loan = get_loan(life.loan_id)
    _expect(loan.status == "paid_off", _("after every due date the loan is %(status)s, not paid off "
                                         "(%(outstanding)s principal outstanding)", status=loan.status,
                                         outstanding=loan.principal_outstanding))
    repaid = db.session.scalar(select(func.count(Repayment.id)).where(Repayment.loan_id == loan.id,
                                                                      Repayment.state == "done"))
    life.outcome.steps.append(ngettext("%(num)d repayment collected by %(command)s; paid off",
                                       "%(num)d repayments collected by %(command)s; paid off", repaid,
                                       command="`lendkit daily`"))
    claims = dict(db.session.execute(select(Claim.holder_id, Claim.share).where(Claim.loan_id == loan.id)).all())
    received = dict(db.session.execute(
        select(Distribution.holder_id, func.sum(Distribution.principal))
        .join(Repayment, Repayment.id == Distribution.repayment_id)
        .where(Repayment.loan_id == loan.id, Repayment.state == "done")
        .group_by(Distribution.holder_id)).all())
    _expect({k: int(v) for k, v in received.items()} == claims,
            _("investors did not get exactly their principal back"))
    life.outcome.steps.append(ngettext("%(num)d investor received their principal back to the cent",
                                       "each of %(num)d investors received their principal back to the cent",
                                       len(claims)))


def _fail(outcome: Outcome, exc: Exception) -> None:
    outcome.passed = False
    outcome.detail = str(exc) if isinstance(exc, ScenarioFailed) else f"{type(exc).__name__}: {exc}"
    db.session.rollback()


def _live_all(suite: list[Scenario], cast) -> list[Outcome]:
    """Every scenario's loan, side by side on one calendar, as the daily job sees a real tenant's loans."""
    from core.ledger.balances import verify
    from core.lending.daily import run_day
    from core.lending.models import Installment

    staff = (cast.staff("reviewer"), cast.staff("risk_officer"))
    outcomes, lives = [], []
    for scenario in suite:
        outcome = Outcome(scenario.name)
        outcomes.append(outcome)
        try:
            lives.append(_list_and_fund(scenario, cast, staff, outcome))
        except Exception as exc:  # a crash fails the scenario, it never passes
            _fail(outcome, exc)
    for life in lives:
        if life.pays_on is None:
            cast.deposit(life.borrower, life.owed)
    ids = [life.loan_id for life in lives]
    days = set(db.session.scalars(select(Installment.due_date).where(Installment.loan_id.in_(ids)))) if ids else set()
    days |= {d for life in lives for d in (life.check_late_on, life.pays_on) if d is not None}
    failed: set[int] = set()
    for day in sorted(days):
        for life in lives:
            if life.pays_on == day:
                cast.deposit(life.borrower, life.owed)
        run_day(day)
        for life in lives:
            if life.check_late_on == day and id(life) not in failed:
                try:
                    _check_late(life)
                except Exception as exc:
                    _fail(life.outcome, exc)
                    failed.add(id(life))
    for life in lives:
        if id(life) in failed:
            continue
        try:
            _check_paid_off(life)
            life.outcome.passed = True
            life.outcome.detail = life.outcome.steps[-1]
        except Exception as exc:
            _fail(life.outcome, exc)
    books = Outcome(_("the books balance and reconcile with the bank every day"))
    problems = verify()
    differences = reconcile_every_day()
    books.passed = not problems and not differences
    if books.passed:
        books.detail = ngettext("%(num)d day reconciled, no difference", "%(num)d days reconciled, no difference",
                                len(days))
    else:  # the ledger's own problems are shown as they come
        books.detail = "; ".join(problems[:3]) or ngettext(
            "%(num)d difference between the ledger and the bank", "%(num)d differences between the ledger and the bank",
            len(differences))
    outcomes.append(books)
    return outcomes


# --------------------------------------------------------------------- the rehearsal


def _rehearsal_config(config: dict, folder: Path) -> dict:
    rehearsal = copy.deepcopy(config)
    rehearsal["providers"] = {
        "custody": {"name": "sandbox", "settings": {"database_url": f"sqlite:///{folder / 'bank.db'}"}},
        "sms": {"name": "console", "settings": {"outbox": str(folder / "sms-outbox-{tenant}.jsonl")}},
        "credit_bureau": {"name": "sandbox", "settings": {}},
    }
    return rehearsal


def rehearse(tenant, suite: list[Scenario]) -> list[Outcome]:
    """Live every scenario of ``suite`` with ``tenant``'s configuration in a throwaway database; the outcomes
    are written in the caller's locale (the rehearsal's own app would otherwise pick its own)."""
    from core import jobs
    from core.app import create_app
    from core.delivery.rehearsal import Cast
    from core.i18n import current_locale
    from core.tenancy import tenant_context
    from core.tenancy.models import Tenant, TenantHost

    outer = current_app.config
    locale = current_locale()
    with tempfile.TemporaryDirectory(prefix="lendkit-acceptance-") as tmp:
        folder = Path(tmp)
        settings = {name: outer[name] for name in CARRIED_SETTINGS if name in outer}
        settings.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'rehearsal.db'}", LENDKIT_INSTANCE_PATH=str(folder),
                        LENDKIT_ENV="testing", LENDKIT_BROKER_URL=None, LENDKIT_REDIS_URL=None, SERVER_NAME=None,
                        LENDKIT_REHEARSAL=True)  # plugins' event hooks can tell a rehearsal from real life
        app = create_app(settings)
        saved = {key: jobs.celery.conf[key] for key in ("broker_url", "result_backend", "task_always_eager")}
        jobs.init_app(app)  # the rehearsal's tasks run in-process, in the rehearsal's app
        try:
            with app.app_context():
                db.create_all()
                copy_ = Tenant(slug=tenant.slug, name=tenant.name, default_locale=tenant.default_locale,
                               currency=tenant.currency, theme=tenant.theme, config=_rehearsal_config(tenant.config, folder),
                               config_digest=tenant.config_digest, stage=tenant.stage)
                copy_.hosts.append(TenantHost(host=f"{tenant.slug}.acceptance.invalid"))
                db.session.add(copy_)
                db.session.commit()
                with tenant_context(copy_), force_locale(locale):
                    cast = Cast()
                    cast.open_platform()
                    outcomes = _live_all(suite, cast)
                db.session.remove()
                db.engine.dispose()
        finally:
            jobs.celery.conf.update(saved)  # the deployment's own task routing, as it was
    return outcomes


def run_acceptance(tenant, actor: str, locale: str | None = None):
    """Generate ``tenant``'s suite, rehearse it, record and return the :class:`AcceptanceRun` (here and now).
    Its texts are written in ``locale`` (``en``, ``zh_CN``; by default the current locale)."""
    return finish_acceptance(_record_start(tenant, actor).id, locale=locale)


#: A run not finished after this long is taken for lost (its worker died): another may start.
RUN_LOST_AFTER = timedelta(hours=1)


class AlreadyRunning(Exception):
    """The tenant's acceptance suite is running already."""

    def __init__(self, run):
        super().__init__(f"run {run.id} is running since {run.started_at:%Y-%m-%d %H:%M}")
        self.run = run


def start_acceptance(tenant, actor: str, locale: str | None = None):
    """Record a run as started and hand it to a Celery worker (in-process when no broker is configured, so
    then it is finished on return): the vendor console's way, so no request waits for a suite. Raises
    :class:`AlreadyRunning` while another run of the tenant is running. The run's texts are written in
    ``locale`` (by default the current locale: the starter's, not the worker's)."""
    from core.i18n import current_locale
    from core.jobs import dispatch
    from core.tenancy import tenant_context

    running = latest_run(tenant)
    if running is not None and running.finished_at is None and not _lost(running):
        raise AlreadyRunning(running)
    locale = locale or current_locale()
    run_id = _record_start(tenant, actor).id
    with tenant_context(tenant):
        dispatch("delivery.accept", run_id, locale)
    db.session.expire_all()
    return latest_run(tenant)


def _lost(run) -> bool:
    from core.tenancy.models import aware, utcnow

    return utcnow() - aware(run.started_at) > RUN_LOST_AFTER


def _record_start(tenant, actor: str):
    from core.delivery.models import AcceptanceRun
    from core.delivery.stages import configuration_digest
    from core.tenancy.models import utcnow

    run = AcceptanceRun(tenant_id=tenant.id, config_digest=configuration_digest(tenant), passed=None, scenarios=[],
                        actor=actor, started_at=utcnow(), finished_at=None)
    db.session.add(run)
    db.session.commit()
    return run


def finish_acceptance(run_id: int, locale: str | None = None):
    """Rehearse the run's tenant as configured now and record the outcome (a run finished already is left as
    it is). A suite that cannot run is recorded as a failed run saying why, never left running. The outcome's
    texts are written in ``locale`` (by default the current locale) and stored as plain strings."""
    from core.delivery.models import AcceptanceRun
    from core.delivery.stages import configuration_digest
    from core.tenancy.models import Tenant, utcnow

    run = db.session.get(AcceptanceRun, run_id)
    if run is None or run.finished_at is not None:
        return run
    tenant = db.session.get(Tenant, run.tenant_id)
    digest = configuration_digest(tenant)
    with force_locale(locale) if locale else nullcontext():
        try:
            suite = scenarios(tenant.config)
            outcomes = rehearse(tenant, suite) if suite else [
                Outcome(_("loan products"), False, _("the tenant has no loan products; there is nothing to accept"))]
        except Exception as exc:  # noqa: BLE001 - recorded: the operator sees why, and may run it again
            db.session.rollback()
            outcomes = [Outcome(_("the suite runs"), False, _("the acceptance suite could not run: %(error)s",
                                                              error=f"{type(exc).__name__}: {exc}"))]
    run = db.session.get(AcceptanceRun, run_id)
    run.config_digest = digest
    run.passed = all(o.passed for o in outcomes)
    run.scenarios = [asdict(o) for o in outcomes]
    run.finished_at = utcnow()
    db.session.commit()
    return run


def latest_run(tenant):
    from core.delivery.models import AcceptanceRun

    return db.session.scalar(select(AcceptanceRun).where(AcceptanceRun.tenant_id == tenant.id)
                             .order_by(AcceptanceRun.id.desc()).limit(1))
