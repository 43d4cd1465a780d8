"""Every model of the core, imported in one place so the metadata is complete.

Alembic's autogenerate and the migration-agreement test read this.
"""
from core.credit.models import CreditGrade, CreditReport  # noqa: F401
from core.custody.models import CustodyInstruction, ReconciliationDifference, ReconciliationRun  # noqa: F401  (imports core.ledger.models: LedgerAccount, JournalEntry, JournalLine)
from core.configuration.models import BrandAsset, ConfigVersion  # noqa: F401
from core.delivery.models import SignOff, StageChange  # noqa: F401
from core.accounts.models import AuthSession, BankCard, KycApplication, KycDocument, OtpCode, User, UserRole  # noqa: F401  (imports core.audit.models too)
from core.lending.models import AutoBidRule, Bid, Claim, CollectionNote, DailyRun, Distribution, Installment, Loan, LoanContract, LoanEvent, LoanNotice, LoanReview, Repayment  # noqa: F401
from core.notices.models import Notice  # noqa: F401
from core.tenancy.models import Tenant, TenantHost  # noqa: F401
from core.vendor.models import VendorOperator  # noqa: F401
