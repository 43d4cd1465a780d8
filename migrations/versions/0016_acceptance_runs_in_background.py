"""acceptance runs may be running: passed and finished_at unset until a worker finishes the suite

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("acceptance_run", schema=None) as batch_op:
        batch_op.alter_column("passed", existing_type=sa.Boolean(), nullable=True)
        batch_op.alter_column("finished_at", existing_type=sa.DateTime(timezone=True), nullable=True)


def downgrade():
    op.execute("UPDATE acceptance_run SET passed = false WHERE passed IS NULL")
    op.execute("UPDATE acceptance_run SET finished_at = started_at WHERE finished_at IS NULL")
    with op.batch_alter_table("acceptance_run", schema=None) as batch_op:
        batch_op.alter_column("finished_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("passed", existing_type=sa.Boolean(), nullable=False)
