"""credit reports and grades

Stored bureau reports (keyed by the caller's subject key, reused within the
tenant's freshness window) and each subject's current credit grade. A branch
of its own off 0001.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-21 21:29:03.569425
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('credit_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_key', sa.String(length=128), nullable=False),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('bureau', sa.String(length=63), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('identity_matched', sa.Boolean(), nullable=False),
    sa.Column('platform_balance', sa.BigInteger(), nullable=False),
    sa.Column('total_balance', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("subject_type IN ('person', 'enterprise')", name=op.f('ck_credit_report_subject_type')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_credit_report_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_report')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_credit_report_tenant_id_id'))
    )
    with op.batch_alter_table('credit_report', schema=None) as batch_op:
        batch_op.create_index('ix_credit_report_subject', ['tenant_id', 'subject_key', 'fetched_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_report_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('credit_grade',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_key', sa.String(length=128), nullable=False),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('refusal', sa.String(length=32), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=3), nullable=True),
    sa.Column('credit_limit', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rate_min', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('rate_max', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('on_time_count', sa.Integer(), nullable=False),
    sa.Column('late_count', sa.Integer(), nullable=False),
    sa.Column('overdue_amount', sa.BigInteger(), nullable=False),
    sa.Column('owed_amount', sa.BigInteger(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("(status = 'graded') = (grade IS NOT NULL)", name=op.f('ck_credit_grade_graded_has_grade')),
    sa.CheckConstraint("grade IS NULL OR grade IN ('AAA', 'AA', 'A', 'B', 'C')", name=op.f('ck_credit_grade_grade')),
    sa.CheckConstraint("status IN ('graded', 'refused')", name=op.f('ck_credit_grade_status')),
    sa.CheckConstraint("subject_type IN ('person', 'enterprise')", name=op.f('ck_credit_grade_subject_type')),
    sa.ForeignKeyConstraint(['tenant_id', 'report_id'], ['credit_report.tenant_id', 'credit_report.id'], name=op.f('fk_credit_grade_tenant_id_credit_report')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_credit_grade_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_grade')),
    sa.UniqueConstraint('tenant_id', 'subject_key', name=op.f('uq_credit_grade_tenant_id_subject_key'))
    )
    with op.batch_alter_table('credit_grade', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_grade_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_grade_tenant_id'), ['tenant_id'], unique=False)



def downgrade():
    with op.batch_alter_table('credit_grade', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_grade_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_credit_grade_report_id'))

    op.drop_table('credit_grade')
    with op.batch_alter_table('credit_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_report_tenant_id'))
        batch_op.drop_index('ix_credit_report_subject')

    op.drop_table('credit_report')
