"""every key from one tenant-owned row to another includes the tenant

A child refers to its parent by ``(tenant_id, parent_id)`` → the parent's
``(tenant_id, id)``, as the ledger's lines and the credit grades already did:
the database itself refuses a bid on another tenant's loan, a role on another
tenant's user, a distribution to another tenant's claim — whatever the code
above it does — and the keys are the ones a table distributed by ``tenant_id``
needs. Each parent gets the unique ``(tenant_id, id)`` its children refer to.

Revision ID: 0019
Revises: 0018
"""
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

#: Tables whose (tenant_id, id) a child refers to (journal_entry has it since 0017).
PARENTS = ("user_account", "kyc_application", "loan", "bid", "claim", "installment", "repayment",
           "reconciliation_run", "import_batch")

#: (child table, column, parent table, ON DELETE), in the order the tables are changed.
KEYS = (
    ("user_role", "user_id", "user_account", "CASCADE"),
    ("auth_session", "user_id", "user_account", "CASCADE"),
    ("kyc_application", "user_id", "user_account", "CASCADE"),
    ("kyc_document", "application_id", "kyc_application", "CASCADE"),
    ("bank_card", "user_id", "user_account", "CASCADE"),
    ("loan_event", "loan_id", "loan", "CASCADE"),
    ("loan_review", "loan_id", "loan", "CASCADE"),
    ("bid", "loan_id", "loan", "CASCADE"),
    ("claim", "loan_id", "loan", "CASCADE"),
    ("claim", "bid_id", "bid", None),
    ("claim", "previous_id", "claim", None),
    ("installment", "loan_id", "loan", "CASCADE"),
    ("repayment", "loan_id", "loan", "CASCADE"),
    ("repayment", "installment_id", "installment", None),
    ("distribution", "repayment_id", "repayment", "CASCADE"),
    ("distribution", "claim_id", "claim", None),
    ("collection_note", "loan_id", "loan", "CASCADE"),
    ("loan_contract", "loan_id", "loan", "CASCADE"),
    ("loan_notice", "loan_id", "loan", "CASCADE"),
    ("journal_entry", "reversal_of", "journal_entry", None),
    ("custody_instruction", "entry_id", "journal_entry", None),
    ("reconciliation_difference", "run_id", "reconciliation_run", "CASCADE"),
    ("imported_record", "batch_id", "import_batch", "CASCADE"),
)


def _tables():
    """Every table changed, in order: parents first (their unique key must exist before a child's refers to it)."""
    order = list(PARENTS)
    for child, *_ in KEYS:
        if child not in order:
            order.append(child)
    return order


def upgrade():
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in PARENTS:
                batch_op.create_unique_constraint(f"uq_{table}_tenant_id_id", ["tenant_id", "id"])
            for child, column, parent, ondelete in KEYS:
                if child != table:
                    continue
                batch_op.drop_constraint(f"fk_{child}_{column}_{parent}", type_="foreignkey")
                batch_op.create_foreign_key(f"fk_{child}_tenant_id_{parent}", parent, ["tenant_id", column],
                                            ["tenant_id", "id"], ondelete=ondelete)


def downgrade():
    for table in reversed(_tables()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for child, column, parent, ondelete in reversed(KEYS):
                if child != table:
                    continue
                batch_op.drop_constraint(f"fk_{child}_tenant_id_{parent}", type_="foreignkey")
                batch_op.create_foreign_key(f"fk_{child}_{column}_{parent}", parent, [column], ["id"],
                                            ondelete=ondelete)
            if table in PARENTS:
                batch_op.drop_constraint(f"uq_{table}_tenant_id_id", type_="unique")
