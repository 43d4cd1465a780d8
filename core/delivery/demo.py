"""Demo people and listings for a tenant on the sandbox bank (``lendkit tenant seed``).

A client at the demo stage sees its own site with life in it: for every loan
product one listing, part-funded by demo investors, from a demo borrower of
the product's type. Everything goes through the real services (identity,
custody sub-accounts, application, two reviews, bids), so what the client
sees is what the product does. The demo people sign in with the mobile
numbers and password below; only tenants whose custody provider is the
sandbox get them — a real bank never sees demo money.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.delivery.rehearsal import Cast
from core.extensions import db

__all__ = ["DEMO_PASSWORD", "DEMO_TRANSACTION_PASSWORD", "DEMO_PEOPLE", "DEMO_PLATFORM_CARD", "seed_demo", "DemoSeed"]

DEMO_PASSWORD = "Demo-pass-2468"
DEMO_TRANSACTION_PASSWORD = "Demo-trade-2468"
#: A Luhn-valid settlement card for the platform's sandbox sub-accounts (the same as `make demo` uses).
DEMO_PLATFORM_CARD = "6222020000000000018"
#: Who signs in to the demo, by mobile number.
DEMO_PEOPLE = {
    "borrower": "13800000001",
    "enterprise_borrower": "13800000002",
    "investors": ("13800000011", "13800000012", "13800000013"),
    "reviewer": "13800000021",
    "risk_officer": "13800000022",
}
#: Names the demo people go by and what their applications say, per locale.
NAMES = {
    "zh_CN": {"borrower": "王小明", "enterprise": "陈建国", "company": "杭州云杉科技有限公司",
              "investors": ("李华", "赵敏", "孙丽"), "staff": ("周审核", "吴风控"),
              "purpose": {"person": "房屋装修", "enterprise": "新订单备货的流动资金"},
              "industry": {"person": "中学教师", "enterprise": "木制品制造"},
              "source": {"person": "工资收入", "enterprise": "经营收入"},
              "reasons": ("资料齐全，信息一致。", "收入稳定，负债率低。风险评估：中等。")},
    "en": {"borrower": "Alex Morgan", "enterprise": "Sam Carter", "company": "Carter Joinery Ltd",
           "investors": ("Jamie Lee", "Robin Park", "Casey Hall"), "staff": ("Pat Reviewer", "Jo Risk"),
           "purpose": {"person": "Home renovation", "enterprise": "Working capital for a new order"},
           "industry": {"person": "Teaching", "enterprise": "Joinery"},
           "source": {"person": "Salary", "enterprise": "Trading income"},
           "reasons": ("Documents complete and consistent.", "Stable income; debt ratio low. Risk: moderate.")},
}
#: Share of each listing the demo investors have already bid.
FUNDED_SHARE = (2, 5)


@dataclass(frozen=True)
class DemoSeed:
    #: Loans listed now, after seeding.
    listings: int
    created: bool
    #: Why nothing was seeded, when nothing was.
    skipped: str = ""
    #: Listings this seed added.
    added: int = 0


class DemoCast(Cast):
    """A :class:`~core.delivery.rehearsal.Cast` whose people sign in with the demo passwords."""

    password = DEMO_PASSWORD
    transaction_password = DEMO_TRANSACTION_PASSWORD


def _listing_amount(product: dict) -> int:
    """A round amount a few times the product's minimum, within its range and a multiple of its bid step."""
    step = product["bid_step"]
    amount = min(product["max_amount"], product["min_amount"] * 5)
    return max(product["min_amount"], amount // step * step)


def _before_configured(tenant) -> bool:
    """Whether ``tenant`` never reached the configured stage (real providers, real books)."""
    from core.delivery.models import StageChange
    from core.delivery.stages import STAGES

    later = STAGES[STAGES.index("configured"):]
    if tenant.stage in later:
        return False
    reached = db.session.scalar(select(db.func.count(StageChange.id)).where(
        StageChange.tenant_id == tenant.id, StageChange.to_stage.in_(later)))
    return not reached


def _borrower_mobile(tenant, kind: str) -> str:
    """The first person and enterprise borrowers have the documented numbers; more borrowers 13600000001, …"""
    from core.accounts.models import User

    first = DEMO_PEOPLE["borrower"] if kind == "person" else DEMO_PEOPLE["enterprise_borrower"]
    if User.by_mobile(tenant, first) is None:
        return first
    serial = 1
    while User.by_mobile(tenant, f"1360000{serial:04d}") is not None:
        serial += 1
    return f"1360000{serial:04d}"


def seed_demo(tenant) -> DemoSeed:
    """Seed ``tenant`` (bound) with demo people and one part-funded listing per product.

    Idempotent: a product with a live listing (listed, its funding deadline not passed) gets no
    other; a product whose loans have all left the listing (failed at their deadline, funded,
    closed) gets a fresh one, so the demo gate's "a listing renders" passes again after a seed.
    All or nothing: when seeding fails, every demo row is cleared again (see :func:`clear_demo`)
    and the error raised.
    """
    from core.lending.models import Loan

    if tenant.config["providers"]["custody"]["name"] != "sandbox":
        return DemoSeed(0, False, "demo loans need the sandbox custody bank; this tenant uses a real one")
    if not _before_configured(tenant):
        return DemoSeed(0, False, f"{tenant.slug} has been configured for real providers; demo money would mix with real books")
    try:
        added = _seed(tenant)
    except Exception:
        db.session.rollback()
        _wipe(tenant)
        raise
    listed = db.session.scalar(select(db.func.count(Loan.id)).where(Loan.status == "listed")) or 0
    return DemoSeed(listed, bool(added), added=added)


def seed_tenant(tenant) -> tuple[int, DemoSeed]:
    """Seed ``tenant`` (bound): the notices of ``tenants/<slug>/seed/notices.yaml``, then the demo
    (:func:`seed_demo`); returns (notices loaded, the demo's outcome). What ``lendkit tenant seed``,
    ``lendkit tenant new`` and the vendor console's *Seed demo data* do."""
    from core.delivery.stages import tenant_folder
    from core.notices.seed import seed_notices

    notices = seed_notices(tenant_folder(tenant) / "seed" / "notices.yaml")
    db.session.commit()
    return notices, seed_demo(tenant)


def _live_listing(product_code: str):
    """The id of a loan of the product that is listed and still open for bids, or None."""
    from core.lending.models import Loan
    from core.tenancy.models import utcnow

    return db.session.scalar(select(Loan.id).where(
        Loan.product_code == product_code, Loan.status == "listed",
        db.or_(Loan.deadline.is_(None), Loan.deadline > utcnow())).limit(1))


def _reusable_borrower(product_code: str):
    """The borrower of the product's latest loan, when that person may apply again: no application
    in progress and nothing owed here (a demo listing that failed at its deadline, say); else None."""
    from core.accounts.models import User
    from core.lending.applications import IN_PROGRESS
    from core.lending.models import OWING_STATES, Loan

    borrower_id = db.session.scalar(select(Loan.borrower_id).where(Loan.product_code == product_code)
                                    .order_by(Loan.id.desc()).limit(1))
    if borrower_id is None:
        return None
    busy = db.session.scalar(select(Loan.id).where(Loan.borrower_id == borrower_id,
                                                   Loan.status.in_(IN_PROGRESS + OWING_STATES)).limit(1))
    return None if busy is not None else db.session.get(User, borrower_id)


def _seed(tenant) -> int:
    """Seed the demo; returns the number of listings added."""
    from core.accounts.models import User
    from core.custody.service import open_platform
    from core.delivery.rehearsal import best_profile
    from core.lending.products import products_of

    names = NAMES.get(tenant.default_locale, NAMES["en"])
    locale = tenant.default_locale
    cast = DemoCast(mobile_prefix="137", first_serial=500 + 100 * (db.session.scalar(select(db.func.count(User.id))) or 0))
    reviewer = User.by_mobile(tenant, DEMO_PEOPLE["reviewer"])
    if reviewer is None:
        company = tenant.config["company"]
        for done in open_platform(name=company["legal_name"],
                                  registration_number=company.get("registration_number") or tenant.slug,
                                  card_number=DEMO_PLATFORM_CARD):
            if done.state != "confirmed":
                raise RuntimeError(f"the sandbox bank did not open the platform's accounts: {done.state} {done.reason}")
        reviewer = cast.staff("reviewer", name=names["staff"][0], mobile=DEMO_PEOPLE["reviewer"], locale=locale)
        cast.staff("risk_officer", name=names["staff"][1], mobile=DEMO_PEOPLE["risk_officer"], locale=locale)
        for name, mobile in zip(names["investors"], DEMO_PEOPLE["investors"]):
            cast.user("investor", name=name, mobile=mobile, funds=100_000_000, locale=locale)
    risk = User.by_mobile(tenant, DEMO_PEOPLE["risk_officer"])
    investors = [User.by_mobile(tenant, mobile) for mobile in DEMO_PEOPLE["investors"]]
    added = 0
    for index, product in enumerate(products_of(tenant)):
        if _live_listing(product["code"]) is not None:
            continue
        profile = best_profile(tenant, product)
        if profile is None:
            continue
        kind = product["borrower_type"]
        borrower = _reusable_borrower(product["code"])  # the product's demo borrower applies again
        if borrower is None and kind == "person":
            mobile = _borrower_mobile(tenant, kind)
            borrower = cast.user("borrower", "investor", name=names["borrower"], mobile=mobile,
                                 profile=profile, locale=locale)
        elif borrower is None:
            mobile = _borrower_mobile(tenant, kind)
            borrower = cast.user("borrower", kind="enterprise", name=names["enterprise"], company=names["company"],
                                 mobile=mobile, profile=profile, locale=locale)
        terms = sorted(product["terms_months"])
        loan = cast.listed_loan(borrower, reviewer, risk, amount=_listing_amount(product),
                                months=terms[len(terms) // 2], method=product["repayment_methods"][0],
                                product=product["code"], purpose=names["purpose"][kind],
                                industry=names["industry"][kind], repayment_source=names["source"][kind],
                                reasons=names["reasons"])
        # one demo investor has bid 40 % (each bid checks a transaction password: argon2, deliberately slow)
        step = product["bid_step"]
        bid = max(-(-product["min_bid"] // step) * step, loan.amount * FUNDED_SHARE[0] // FUNDED_SHARE[1] // step * step)
        cap = product.get("max_bid_per_investor")
        if cap:
            bid = min(bid, cap // step * step)
        if product["min_bid"] <= bid < loan.amount:  # a demo listing stays open: part-funded, never full
            cast.fund(loan, [investors[index % len(investors)]], [bid])
        added += 1
    return added


#: Tenant-owned tables a demo wipe keeps: the site's configuration, its notices and the audit trail.
KEPT_BY_CLEAR = {"brand_asset", "config_version", "notice", "audit_head", "audit_record"}


class ClearRefused(Exception):
    """``clear_demo`` refused; the message says why."""


def clear_demo(tenant, actor: str) -> dict[str, int]:
    """Delete the tenant's people, money, loans and everything made with them (before go-live only);
    returns rows deleted per table. Configuration, notices and the audit trail stay, and the
    wipe is audited. On the sandbox bank, the bank's side is emptied too.

    Refused once the tenant has ever reached the ``configured`` stage (even if sent back since)
    or holds imported base data: those books are real.
    """
    from core.audit import audit
    from core.delivery.models import ImportBatch
    from core.tenancy import tenant_context

    if not _before_configured(tenant):
        raise ClearRefused(f"{tenant.slug} has reached the configured stage: demo data is cleared before real "
                           f"providers are chosen, never after (its books may be real)")
    with tenant_context(tenant):
        if db.session.scalar(select(db.func.count(ImportBatch.id))):
            raise ClearRefused(f"{tenant.slug} holds imported base data: those are real people and money")
    deleted = _wipe(tenant)
    with tenant_context(tenant):
        audit("delivery.demo_cleared", actor=actor, target=f"tenant:{tenant.slug}", details=deleted)
        db.session.commit()
    return deleted


def _wipe(tenant) -> dict[str, int]:
    """Delete every row of the tenant's but those in :data:`KEPT_BY_CLEAR`; empty its sandbox bank."""
    from core.delivery.offboarding import delete_rows

    try:
        deleted = {table: n for table, n in delete_rows(tenant, keep=KEPT_BY_CLEAR).items() if n}
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if tenant.config["providers"]["custody"]["name"] == "sandbox":
        from core.custody.instructions import provider_for

        provider_for(tenant).clear()
    return deleted
