"""configuration versions from the admin console, uploaded brand assets, tenant.file_config

Revision ID: 0008
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_config", sa.JSON(), nullable=True))
    op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_config_version_tenant_id_tenant"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_version")),
        sa.UniqueConstraint("tenant_id", "section", "number", name=op.f("uq_config_version_tenant_id_section_number")),
    )
    with op.batch_alter_table("config_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_config_version_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "brand_asset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_brand_asset_tenant_id_tenant"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brand_asset")),
        sa.UniqueConstraint("tenant_id", "sha256", name=op.f("uq_brand_asset_tenant_id_sha256")),
    )
    with op.batch_alter_table("brand_asset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_brand_asset_tenant_id"), ["tenant_id"], unique=False)


def downgrade():
    with op.batch_alter_table("brand_asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_brand_asset_tenant_id"))
    op.drop_table("brand_asset")
    with op.batch_alter_table("config_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_config_version_tenant_id"))
    op.drop_table("config_version")
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.drop_column("file_config")
