"""ledger keys include the tenant: a journal line refers to its entry and its account by (tenant_id, id)

The line's three foreign keys (tenant, entry, account) become two composite
ones, (tenant_id, entry_id) → journal_entry (tenant_id, id) and (tenant_id,
account_id) → ledger_account (tenant_id, id): the database refuses a line
whose entry or account belongs to another tenant, and checks each line twice
instead of three times. The line's indexes lead with the tenant; the entry's
and the account's lone tenant_id index give way to the unique (tenant_id, id).

Revision ID: 0017
Revises: 0016
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("journal_entry", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_journal_entry_tenant_id_id"), ["tenant_id", "id"])
        batch_op.drop_index(batch_op.f("ix_journal_entry_tenant_id"))
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_ledger_account_tenant_id_id"), ["tenant_id", "id"])
        batch_op.drop_index(batch_op.f("ix_ledger_account_tenant_id"))
    with op.batch_alter_table("journal_line", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_journal_line_tenant_id_tenant"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_journal_line_entry_id_journal_entry"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_journal_line_account_id_ledger_account"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_journal_line_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_journal_line_entry_id"))
        batch_op.drop_index(batch_op.f("ix_journal_line_account_id"))
        batch_op.create_index("ix_journal_line_tenant_id_entry_id", ["tenant_id", "entry_id"], unique=False)
        batch_op.create_index("ix_journal_line_tenant_id_account_id", ["tenant_id", "account_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_journal_line_tenant_id_journal_entry"), "journal_entry",
                                    ["tenant_id", "entry_id"], ["tenant_id", "id"], ondelete="CASCADE")
        batch_op.create_foreign_key(batch_op.f("fk_journal_line_tenant_id_ledger_account"), "ledger_account",
                                    ["tenant_id", "account_id"], ["tenant_id", "id"])


def downgrade():
    with op.batch_alter_table("journal_line", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_journal_line_tenant_id_ledger_account"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_journal_line_tenant_id_journal_entry"), type_="foreignkey")
        batch_op.drop_index("ix_journal_line_tenant_id_account_id")
        batch_op.drop_index("ix_journal_line_tenant_id_entry_id")
        batch_op.create_index(batch_op.f("ix_journal_line_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_journal_line_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_journal_line_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_journal_line_account_id_ledger_account"), "ledger_account",
                                    ["account_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_journal_line_entry_id_journal_entry"), "journal_entry",
                                    ["entry_id"], ["id"], ondelete="CASCADE")
        batch_op.create_foreign_key(batch_op.f("fk_journal_line_tenant_id_tenant"), "tenant",
                                    ["tenant_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_account_tenant_id"), ["tenant_id"], unique=False)
        batch_op.drop_constraint(batch_op.f("uq_ledger_account_tenant_id_id"), type_="unique")
    with op.batch_alter_table("journal_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journal_entry_tenant_id"), ["tenant_id"], unique=False)
        batch_op.drop_constraint(batch_op.f("uq_journal_entry_tenant_id_id"), type_="unique")
