"""delivery: base-data import batches and the external ids of imported rows

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 00:10:27.124638
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digests', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('created', sa.JSON(), nullable=False),
    sa.Column('unchanged', sa.JSON(), nullable=False),
    sa.Column('opening_total', sa.BigInteger(), nullable=False),
    sa.Column('operator', sa.String(length=200), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_import_batch_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batch'))
    )
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batch_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('imported_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=80), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('user', 'loan', 'repayment')", name=op.f('ck_imported_record_kind')),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], name=op.f('fk_imported_record_batch_id_import_batch'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_imported_record_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_record')),
    sa.UniqueConstraint('tenant_id', 'kind', 'external_id', name=op.f('uq_imported_record_tenant_id_kind_external_id'))
    )
    with op.batch_alter_table('imported_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imported_record_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_imported_record_tenant_id'), ['tenant_id'], unique=False)



def downgrade():
    with op.batch_alter_table('imported_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imported_record_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_imported_record_batch_id'))

    op.drop_table('imported_record')
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batch_tenant_id'))

    op.drop_table('import_batch')
