"""People, money and loans at the bound tenant, made the way the real flows leave them.

A :class:`Cast` builds users with a verified identity (the sandbox bureau's
documented test identities, so each gets the grade asked for), a custody
sub-account opened at the tenant's bank and funds deposited, staff with their
roles, and drives a loan from application to listing and funding through the
lending services themselves — nothing is written behind their back.

The acceptance suite (:mod:`core.delivery.acceptance`) rehearses every product
of a tenant with it, and ``lendkit tenant seed`` fills a demo site with it.
"""
from __future__ import annotations

import itertools
from datetime import date, timedelta

from core.accounts import crypto
from core.accounts.identity import luhn_check_digit, resident_id_check_digit, uscc_check_char
from core.accounts.models import KycApplication, User, UserRole
from core.accounts.policy import hash_password
from core.extensions import db
from core.tenancy.models import Tenant
from core.tenancy.scoping import current_tenant_id

__all__ = ["Cast", "PLATFORM_ROLES", "SANDBOX_PROFILES", "best_profile", "sandbox_person", "sandbox_company", "bids_for"]

#: The platform's own custody sub-accounts.
PLATFORM_ROLES = ("fee_income", "risk_reserve", "marketing")
#: A well-formed credit code for the platform company's sandbox accounts.
PLATFORM_CREDIT_CODE = "91310115MA1K4XYZ3E"


def sandbox_person(code: str = "901", serial: int = 0) -> str:
    """A valid resident identity number the sandbox bureau gives profile ``code`` (901 = AAA … 905 = C).

    ``serial`` varies the birth date so many people of one profile have distinct numbers.
    """
    born = date(1990, 3, 7) + timedelta(days=serial)
    first17 = f"110101{born:%Y%m%d}{code}"
    return first17 + resident_id_check_digit(first17)


def sandbox_company(code: str = "901", serial: int = 0) -> str:
    """A valid unified social credit code the sandbox bureau gives profile ``code``."""
    first17 = f"91110000MA{serial % 100:02d}CR{code}"
    return first17 + uscc_check_char(first17)


#: The sandbox bureau's documented identity profile of each grade (see plugins/credit_bureau/README.md).
SANDBOX_PROFILES = {"AAA": "901", "AA": "902", "A": "903", "B": "904", "C": "905"}


def best_profile(tenant, product: dict) -> str | None:
    """The sandbox profile of the best grade ``product`` serves at ``tenant``; None when it serves none."""
    from core.lending.products import rate_band

    return next((code for grade, code in SANDBOX_PROFILES.items() if rate_band(tenant, product, grade) is not None), None)


def bids_for(amount: int, *, min_bid: int, step: int, max_bid: int | None, investors: int = 3) -> list[int]:
    """Bids that fund ``amount`` exactly under a product's bidding rules: each a multiple of ``step``,
    at least ``min_bid`` and at most ``max_bid`` (both taken to the nearest allowed multiple of the
    step inside them); the last one may ask for more than is left and is trimmed when placed.
    ``investors`` bids when the rules allow it, more when ``max_bid`` needs it."""
    smallest = -(-min_bid // step) * step
    largest = max_bid // step * step if max_bid else None
    if largest is not None and largest < smallest:
        raise ValueError(f"no bid is both at least {min_bid} and at most {max_bid} in steps of {step}")
    count = max(1, min(investors, amount // smallest))
    if largest:
        count = max(count, -(-amount // largest))
    part = max(smallest, amount // count // step * step)
    if largest:
        part = min(part, largest)
    bids = [part] * (count - 1)
    left = amount - sum(bids)
    while left > (largest or left):  # the parts were rounded down: more bids of the largest size
        bids.append(largest)
        left -= largest
    if left <= 0:
        raise ValueError(f"{amount} cannot be split into bids of at least {smallest}")
    last = max(smallest, -(-left // step) * step)
    if largest is not None and last > largest:
        raise ValueError(f"{amount} needs a last bid above the maximum of {max_bid}")
    bids.append(last)  # what is left, rounded up to a step; trimmed to what is left when placed
    return bids


class Cast:
    """People and money at the bound tenant (see the module's docstring)."""

    password = "Login-pass-2468"
    transaction_password = "tx-pass-2468"

    def __init__(self, *, mobile_prefix: str = "139", first_serial: int = 1):
        self._mobiles = itertools.count(1)
        self._cards = itertools.count(1)
        self._serial = itertools.count(first_serial)
        self._mobile_prefix = mobile_prefix
        self.tenant = db.session.get(Tenant, current_tenant_id())

    # ------------------------------------------------------------------ people

    def card(self) -> str:
        """A Luhn-valid 19-digit card, distinct per tenant (its id modulo 10,000) and per call."""
        partial = f"6222{self.tenant.id % 10_000:04d}{next(self._cards):010d}"
        return partial + luhn_check_digit(partial)

    def next_mobile(self) -> str:
        return f"{self._mobile_prefix}{self.tenant.id:02d}{next(self._mobiles):06d}"

    def open_platform(self) -> None:
        """The platform's fee income, risk reserve and marketing sub-accounts at the bank (idempotent)."""
        from core.custody import service

        for role in PLATFORM_ROLES:
            done = service.open_account(role, name=self.tenant.config["company"]["legal_name"],
                                        id_number=PLATFORM_CREDIT_CODE, card_number=self.card(), key=f"open-{role}")
            if done.state != "confirmed":
                raise RuntimeError(f"the bank did not open the platform's {role} account: {done.state} {done.reason}")

    def user(self, *roles, kind: str = "person", verified: bool = True, custody: bool = True, funds: int = 0,
             profile: str = "901", locale: str = "en", name: str | None = None, company: str | None = None,
             mobile: str | None = None) -> User:
        """A user with ``roles``; a verified identity of sandbox ``profile``; a custody sub-account; ``funds`` deposited."""
        tenant = self.tenant
        serial = next(self._serial)
        mobile = mobile or self.next_mobile()
        if not hasattr(self, "_hashes"):  # one hash of each password serves every person of the cast
            self._hashes = (hash_password(self.password), hash_password(self.transaction_password))
        user = User(kind=kind, status="active", password_hash=self._hashes[0],
                    transaction_password_hash=self._hashes[1], locale=locale)
        user.set_mobile(tenant, mobile)
        for role in roles:
            user.roles.append(UserRole(role=role))
        db.session.add(user)
        db.session.flush()
        user.test_mobile = mobile
        name = name or ("张三" if kind == "person" else "李四")
        if kind == "person":
            number = sandbox_person(profile, serial)
            application = KycApplication(
                user_id=user.id, kind="person", status="approved" if verified else "pending", bureau_result="matched",
                name_sealed=crypto.seal(tenant, "kyc.name", name),
                id_number_sealed=crypto.seal(tenant, "kyc.id_number", number),
                id_number_index=crypto.blind_index(tenant, "id_number", number),
            )
        else:
            number = sandbox_company(profile, serial)
            application = KycApplication(
                user_id=user.id, kind="enterprise", status="approved" if verified else "pending",
                name_sealed=crypto.seal(tenant, "kyc.name", name),
                company_name=company or f"北京测试科技有限公司{serial}",
                uscc_sealed=crypto.seal(tenant, "kyc.uscc", number),
                uscc_index=crypto.blind_index(tenant, "uscc", number),
            )
        db.session.add(application)
        db.session.commit()
        if custody:
            from core.custody import service

            done = service.open_account(user.id, name=name, id_number=number, card_number=self.card(),
                                        key=f"open-user-{user.id}")
            if done.state != "confirmed":
                raise RuntimeError(f"the bank did not open a sub-account: {done.state} {done.reason}")
        if funds:
            self.deposit(user, funds)
        return db.session.get(User, user.id)

    def staff(self, *roles, **kwargs) -> User:
        return self.user(*roles, custody=False, **kwargs)

    def deposit(self, user_or_id, amount: int):
        from core.custody import service

        user_id = user_or_id if isinstance(user_or_id, int) else user_or_id.id
        done = service.deposit(user_id, amount, key=f"deposit-{user_id}-{next(self._cards)}")
        if done.state != "confirmed":
            raise RuntimeError(f"the bank refused a deposit of {amount}: {done.state} {done.reason}")
        return done

    # ------------------------------------------------------------------ loans

    def listed_loan(self, borrower, reviewer, risk_officer, *, amount: int = 1_000_000, months: int = 6,
                    method: str = "equal_installment", product: str = "consumer", rate=None,
                    purpose: str = "Home renovation", industry: str = "Teaching", repayment_source: str = "Salary",
                    reasons: tuple[str, str] = ("Documents complete and consistent.",
                                                "Stable income; debt ratio low. Risk: moderate.")):
        """An application by ``borrower`` approved by both reviewers (``reasons``): a listed loan."""
        from core.lending.applications import create_application, review

        loan = create_application(borrower, product_code=product, amount=amount, months=months, method=method,
                                  purpose=purpose, repayment_source=repayment_source, industry=industry,
                                  monthly_income=1_500_000, safeguards="none", annual_rate=rate)
        review(reviewer, loan.id, "approved", reasons[0])
        return review(risk_officer, loan.id, "approved", reasons[1])

    def fund(self, loan, investors, amounts=None):
        """Bid until the loan is funded: ``amounts[i]`` by ``investors[i]`` (default: equal parts)."""
        from core.lending.bidding import place_bid

        if amounts is None:
            step = loan.terms["bid_step"]
            base = (loan.amount // len(investors)) // step * step
            amounts = [base] * (len(investors) - 1) + [loan.amount - base * (len(investors) - 1)]
        return [place_bid(inv, loan.id, amount, transaction_password=self.transaction_password)
                for inv, amount in zip(investors, amounts)]
