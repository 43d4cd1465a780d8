"""acceptance runs of the delivery process's tested gate

Revision ID: 0014
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "acceptance_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("config_digest", sa.String(length=64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("scenarios", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("acceptance_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acceptance_run_tenant_id"), ["tenant_id"], unique=False)


def downgrade():
    with op.batch_alter_table("acceptance_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acceptance_run_tenant_id"))
    op.drop_table("acceptance_run")
