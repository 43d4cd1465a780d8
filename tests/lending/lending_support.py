"""Helpers the lending tests share (imported by name: ``from lending_support import …``).

``World`` builds people at the bound tenant the way the accounts module
leaves them — verified identity, custody sub-account opened at the sandbox
bank, funds deposited — and drives a loan through its life.
"""
from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy import select

from core.accounts import crypto
from core.accounts.identity import luhn_check_digit
from core.accounts.models import KycApplication, User, UserRole
from core.accounts.policy import hash_password
from core.extensions import db
from core.tenancy.models import Tenant
from core.tenancy.scoping import current_tenant_id

PLATFORM_ROLES = ("fee_income", "risk_reserve", "marketing")
TX_PASSWORD = "tx-pass-2468"
PASSWORD = "Login-pass-2468"


def sandbox_person(code: str = "901", serial: int = 0) -> str:
    """A valid resident identity number the sandbox bureau gives profile ``code`` (901 = AAA … 905 = C).

    ``serial`` varies the birth date so many borrowers of one profile have distinct numbers.
    """
    from core.accounts.identity import resident_id_check_digit

    born = date(1990, 3, 7) + timedelta(days=serial)
    first17 = f"110101{born:%Y%m%d}{code}"
    return first17 + resident_id_check_digit(first17)


def sandbox_company(code: str = "901", serial: int = 0) -> str:
    from core.accounts.identity import uscc_check_char

    first17 = f"91110000MA{serial:02d}CR{code}"
    return first17 + uscc_check_char(first17)


class World:
    """People and money at the bound tenant."""

    def __init__(self):
        self._mobiles = itertools.count(1)
        self._cards = itertools.count(1)
        self._serial = itertools.count(1)
        self.tenant = db.session.get(Tenant, current_tenant_id())

    # ------------------------------------------------------------------ people

    def card(self) -> str:
        partial = f"62220{self.tenant.id}{next(self._cards):012d}"
        return partial + luhn_check_digit(partial)

    def open_platform(self) -> None:
        from core.custody import service

        for role in PLATFORM_ROLES:
            done = service.open_account(role, name=self.tenant.config["company"]["legal_name"],
                                        id_number="91310115MA1K4XYZ3E", card_number=self.card(), key=f"open-{role}")
            assert done.state == "confirmed", (role, done.state, done.reason)

    def user(self, *roles, kind: str = "person", verified: bool = True, custody: bool = True, funds: int = 0,
             profile: str = "901", locale: str = "en") -> User:
        tenant = self.tenant
        serial = next(self._serial)
        mobile = f"139{tenant.id:02d}{next(self._mobiles):06d}"
        user = User(kind=kind, status="active", password_hash=hash_password(PASSWORD),
                    transaction_password_hash=hash_password(TX_PASSWORD), locale=locale)
        user.set_mobile(tenant, mobile)
        for role in roles:
            user.roles.append(UserRole(role=role))
        db.session.add(user)
        db.session.flush()
        user.test_mobile = mobile
        name = "张三" if kind == "person" else "李四"
        if kind == "person":
            number = sandbox_person(profile, serial)
            application = KycApplication(
                user_id=user.id, kind="person", status="approved" if verified else "pending", bureau_result="matched",
                name_sealed=crypto.seal(tenant, "kyc.name", name),
                id_number_sealed=crypto.seal(tenant, "kyc.id_number", number),
                id_number_index=crypto.blind_index(tenant, "id_number", number),
            )
        else:
            number = sandbox_company(profile, serial % 100)
            application = KycApplication(
                user_id=user.id, kind="enterprise", status="approved" if verified else "pending",
                name_sealed=crypto.seal(tenant, "kyc.name", name), company_name=f"北京测试科技有限公司{serial}",
                uscc_sealed=crypto.seal(tenant, "kyc.uscc", number),
                uscc_index=crypto.blind_index(tenant, "uscc", number),
            )
        db.session.add(application)
        db.session.commit()
        if custody:
            from core.custody import service

            done = service.open_account(user.id, name=name, id_number=number, card_number=self.card(),
                                        key=f"open-user-{user.id}")
            assert done.state == "confirmed", (done.state, done.reason)
        if funds:
            self.deposit(user, funds)
        return db.session.get(User, user.id)

    def staff(self, *roles) -> User:
        return self.user(*roles, custody=False)

    def deposit(self, user_or_id, amount: int):
        from core.custody import service

        user_id = user_or_id if isinstance(user_or_id, int) else user_or_id.id
        done = service.deposit(user_id, amount, key=f"deposit-{user_id}-{next(self._cards)}")
        assert done.state == "confirmed", (done.state, done.reason)
        return done

    def token(self, user, *, second_factor: bool = True) -> dict:
        """Headers with an API bearer token of ``user``."""
        from core.accounts.signin import open_session

        token = open_session(self.tenant, user, kind="api", second_factor=second_factor)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    # ------------------------------------------------------------------ loans

    def listed_loan(self, borrower, reviewer, risk_officer, *, amount: int = 1_000_000, months: int = 6,
                    method: str = "equal_installment", product: str = "consumer", rate=None):
        from core.lending.applications import create_application, review

        loan = create_application(borrower, product_code=product, amount=amount, months=months, method=method,
                                  purpose="Home renovation", repayment_source="Salary", industry="Teaching",
                                  monthly_income=1_500_000, safeguards="none", annual_rate=rate)
        review(reviewer, loan.id, "approved", "Documents complete and consistent.")
        return review(risk_officer, loan.id, "approved", "Stable income; debt ratio low. Risk: moderate.")

    def fund(self, loan, investors, amounts=None):
        """Bid until the loan is funded: ``amounts[i]`` by ``investors[i]`` (default: equal parts)."""
        from core.lending.bidding import place_bid

        if amounts is None:
            step = loan.terms["bid_step"]
            base = (loan.amount // len(investors)) // step * step
            amounts = [base] * (len(investors) - 1) + [loan.amount - base * (len(investors) - 1)]
        bids = [place_bid(inv, loan.id, amount, transaction_password=TX_PASSWORD) for inv, amount in zip(investors, amounts)]
        return bids


def books_are_clean() -> list[str]:
    """Every problem of the bound tenant's books (cached vs derived balances, unbalanced entries)."""
    from core.ledger.balances import verify

    return verify()


def reconcile_all_days() -> list:
    """Reconcile the bound tenant's ledger against the bank for every day with a movement; the differences."""
    from core.custody.reconcile import reconcile
    from core.ledger.models import JournalEntry

    days = sorted(set(db.session.scalars(select(JournalEntry.value_date).where(JournalEntry.value_date.is_not(None)))))
    differences = []
    for day in days:
        run = reconcile(day)
        differences.extend(run.differences)
    return differences
