"""repayments collected in batches: the batch's custody instruction key on each repayment;
distributions indexed by (repayment, tenant)

Also joins the two heads (base-data import, acceptance runs) into one.

Revision ID: 0015
Revises: 0010, 0014
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = ("0010", "0014")
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("repayment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_key", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_repayment_tenant_id_batch_key", ["tenant_id", "batch_key"], unique=False)
    with op.batch_alter_table("distribution", schema=None) as batch_op:
        batch_op.drop_index("ix_distribution_repayment_id")
        batch_op.create_index("ix_distribution_repayment_id_tenant_id", ["repayment_id", "tenant_id"], unique=False)


def downgrade():
    with op.batch_alter_table("distribution", schema=None) as batch_op:
        batch_op.drop_index("ix_distribution_repayment_id_tenant_id")
        batch_op.create_index("ix_distribution_repayment_id", ["repayment_id"], unique=False)
    with op.batch_alter_table("repayment", schema=None) as batch_op:
        batch_op.drop_index("ix_repayment_tenant_id_batch_key")
        batch_op.drop_column("batch_key")
