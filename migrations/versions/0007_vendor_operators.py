"""vendor console operators

Revision ID: 0007
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "vendor_operator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=False),
        sa.Column("last_totp_step", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_operator")),
        sa.UniqueConstraint("login", name=op.f("uq_vendor_operator_login")),
    )


def downgrade():
    op.drop_table("vendor_operator")
