"""lending: loans, reviews, bids, claims, installments, repayments, contracts, notices, daily runs

Revision ID: 0006
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('auto_bid_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('investor_id', sa.Integer(), nullable=False),
    sa.Column('grades', sa.JSON(), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('max_per_loan', sa.BigInteger(), nullable=False),
    sa.Column('min_rate', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('keep_available', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_auto_bid_rule_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auto_bid_rule')),
    sa.UniqueConstraint('tenant_id', 'investor_id', name=op.f('uq_auto_bid_rule_tenant_id_investor_id'))
    )
    with op.batch_alter_table('auto_bid_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auto_bid_rule_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('daily_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('running', 'done', 'failed')", name=op.f('ck_daily_run_state')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_daily_run_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_run')),
    sa.UniqueConstraint('tenant_id', 'day', 'step', name=op.f('uq_daily_run_tenant_id_day_step'))
    )
    with op.batch_alter_table('daily_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_daily_run_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('loan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('borrower_id', sa.Integer(), nullable=False),
    sa.Column('borrower_type', sa.String(length=16), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('annual_rate', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('repayment_source', sa.String(length=500), nullable=False),
    sa.Column('industry', sa.String(length=100), nullable=False),
    sa.Column('monthly_income', sa.BigInteger(), nullable=False),
    sa.Column('safeguards', sa.String(length=500), nullable=False),
    sa.Column('subject_key', sa.String(length=128), nullable=True),
    sa.Column('grade', sa.String(length=3), nullable=True),
    sa.Column('risk_assessment', sa.Text(), nullable=False),
    sa.Column('disclosure', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('review_step', sa.String(length=10), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('listed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bid_total', sa.BigInteger(), nullable=False),
    sa.Column('frozen_total', sa.BigInteger(), nullable=False),
    sa.Column('disbursed_on', sa.Date(), nullable=True),
    sa.Column('service_fee', sa.BigInteger(), nullable=False),
    sa.Column('reserve_contribution', sa.BigInteger(), nullable=False),
    sa.Column('principal_repaid', sa.BigInteger(), nullable=False),
    sa.Column('principal_outstanding', sa.BigInteger(), nullable=False),
    sa.Column('owed_to_reserve', sa.BigInteger(), nullable=False),
    sa.Column('collection_status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'approved', 'listed', 'funded', 'disbursed', 'repaying', 'overdue', 'paid_off', 'rejected', 'failed', 'defaulted', 'written_off')", name=op.f('ck_loan_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_loan_amount')),
    sa.CheckConstraint('bid_total >= 0 AND bid_total <= amount', name=op.f('ck_loan_bid_total')),
    sa.CheckConstraint('frozen_total >= 0 AND frozen_total <= bid_total', name=op.f('ck_loan_frozen_total')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_loan_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan')),
    sa.UniqueConstraint('tenant_id', 'number', name=op.f('uq_loan_tenant_id_number'))
    )
    with op.batch_alter_table('loan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_borrower_id'), ['borrower_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_loan_tenant_id_status', ['tenant_id', 'status'], unique=False)

    op.create_table('bid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('investor_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('requested', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('request_key', sa.String(length=200), nullable=False),
    sa.Column('auto', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'frozen', 'void', 'released', 'settled')", name=op.f('ck_bid_state')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_bid_amount')),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_bid_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_bid_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bid')),
    sa.UniqueConstraint('tenant_id', 'request_key', name=op.f('uq_bid_tenant_id_request_key'))
    )
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bid_investor_id'), ['investor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bid_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bid_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_bid_tenant_id_loan_id_investor_id', ['tenant_id', 'loan_id', 'investor_id'], unique=False)

    op.create_table('collection_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_collection_note_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_collection_note_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection_note'))
    )
    with op.batch_alter_table('collection_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collection_note_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_collection_note_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('installment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('interest', sa.BigInteger(), nullable=False),
    sa.Column('management_fee', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('penalty', sa.BigInteger(), nullable=False),
    sa.Column('penalty_through', sa.Date(), nullable=True),
    sa.Column('late_fee', sa.BigInteger(), nullable=False),
    sa.Column('overdue_since', sa.Date(), nullable=True),
    sa.Column('advanced_on', sa.Date(), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('due', 'overdue', 'paid', 'written_off')", name=op.f('ck_installment_status')),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_installment_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_installment_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installment')),
    sa.UniqueConstraint('tenant_id', 'loan_id', 'number', name=op.f('uq_installment_tenant_id_loan_id_number'))
    )
    with op.batch_alter_table('installment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_installment_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_installment_tenant_id_status_due_date', ['tenant_id', 'status', 'due_date'], unique=False)

    op.create_table('loan_contract',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_contract_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_loan_contract_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_contract')),
    sa.UniqueConstraint('tenant_id', 'loan_id', 'locale', name=op.f('uq_loan_contract_tenant_id_loan_id_locale'))
    )
    with op.batch_alter_table('loan_contract', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_contract_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_contract_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('loan_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('old_status', sa.String(length=16), nullable=False),
    sa.Column('new_status', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_event_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_loan_event_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_event'))
    )
    with op.batch_alter_table('loan_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_event_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_event_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('loan_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=True),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('message_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('sent', 'failed', 'skipped')", name=op.f('ck_loan_notice_state')),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_notice_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_loan_notice_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_notice')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_loan_notice_tenant_id_key'))
    )
    with op.batch_alter_table('loan_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_notice_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_notice_user_id'), ['user_id'], unique=False)

    op.create_table('loan_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=10), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("decision IN ('approved', 'rejected')", name=op.f('ck_loan_review_decision')),
    sa.CheckConstraint("step IN ('review', 'risk')", name=op.f('ck_loan_review_step')),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_loan_review_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_loan_review_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_review')),
    sa.UniqueConstraint('tenant_id', 'loan_id', 'step', name=op.f('uq_loan_review_tenant_id_loan_id_step'))
    )
    with op.batch_alter_table('loan_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_review_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_review_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('share', sa.BigInteger(), nullable=False),
    sa.Column('principal_outstanding', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('bid_id', sa.Integer(), nullable=True),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('asking_price', sa.BigInteger(), nullable=True),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('active', 'transferred', 'closed')", name=op.f('ck_claim_status')),
    sa.CheckConstraint('share > 0', name=op.f('ck_claim_share')),
    sa.ForeignKeyConstraint(['bid_id'], ['bid.id'], name=op.f('fk_claim_bid_id_bid')),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_claim_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['previous_id'], ['claim.id'], name=op.f('fk_claim_previous_id_claim')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_claim_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim'))
    )
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claim_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_claim_tenant_id_loan_id_status', ['tenant_id', 'loan_id', 'status'], unique=False)

    op.create_table('repayment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('installment_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('payer_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('interest', sa.BigInteger(), nullable=False),
    sa.Column('penalty', sa.BigInteger(), nullable=False),
    sa.Column('platform_fee', sa.BigInteger(), nullable=False),
    sa.Column('to_reserve', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('installment', 'prepayment', 'reserve_advance', 'transfer')", name=op.f('ck_repayment_kind')),
    sa.CheckConstraint("state IN ('pending', 'done', 'failed')", name=op.f('ck_repayment_state')),
    sa.ForeignKeyConstraint(['installment_id'], ['installment.id'], name=op.f('fk_repayment_installment_id_installment')),
    sa.ForeignKeyConstraint(['loan_id'], ['loan.id'], name=op.f('fk_repayment_loan_id_loan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_repayment_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repayment')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_repayment_tenant_id_key'))
    )
    with op.batch_alter_table('repayment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repayment_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_repayment_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('distribution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('repayment_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('principal', sa.BigInteger(), nullable=False),
    sa.Column('interest', sa.BigInteger(), nullable=False),
    sa.Column('penalty', sa.BigInteger(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claim.id'], name=op.f('fk_distribution_claim_id_claim')),
    sa.ForeignKeyConstraint(['repayment_id'], ['repayment.id'], name=op.f('fk_distribution_repayment_id_repayment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_distribution_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution'))
    )
    with op.batch_alter_table('distribution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distribution_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_distribution_repayment_id'), ['repayment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_distribution_tenant_id'), ['tenant_id'], unique=False)



def downgrade():
    with op.batch_alter_table('distribution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_distribution_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_distribution_repayment_id'))
        batch_op.drop_index(batch_op.f('ix_distribution_holder_id'))

    op.drop_table('distribution')
    with op.batch_alter_table('repayment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repayment_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_repayment_loan_id'))

    op.drop_table('repayment')
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_tenant_id_loan_id_status')
        batch_op.drop_index(batch_op.f('ix_claim_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_claim_holder_id'))

    op.drop_table('claim')
    with op.batch_alter_table('loan_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_review_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_loan_review_loan_id'))

    op.drop_table('loan_review')
    with op.batch_alter_table('loan_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_notice_user_id'))
        batch_op.drop_index(batch_op.f('ix_loan_notice_tenant_id'))

    op.drop_table('loan_notice')
    with op.batch_alter_table('loan_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_event_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_loan_event_loan_id'))

    op.drop_table('loan_event')
    with op.batch_alter_table('loan_contract', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_contract_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_loan_contract_loan_id'))

    op.drop_table('loan_contract')
    with op.batch_alter_table('installment', schema=None) as batch_op:
        batch_op.drop_index('ix_installment_tenant_id_status_due_date')
        batch_op.drop_index(batch_op.f('ix_installment_tenant_id'))

    op.drop_table('installment')
    with op.batch_alter_table('collection_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collection_note_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_collection_note_loan_id'))

    op.drop_table('collection_note')
    with op.batch_alter_table('bid', schema=None) as batch_op:
        batch_op.drop_index('ix_bid_tenant_id_loan_id_investor_id')
        batch_op.drop_index(batch_op.f('ix_bid_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_bid_loan_id'))
        batch_op.drop_index(batch_op.f('ix_bid_investor_id'))

    op.drop_table('bid')
    with op.batch_alter_table('loan', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_tenant_id_status')
        batch_op.drop_index(batch_op.f('ix_loan_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_loan_borrower_id'))

    op.drop_table('loan')
    with op.batch_alter_table('daily_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_daily_run_tenant_id'))

    op.drop_table('daily_run')
    with op.batch_alter_table('auto_bid_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auto_bid_rule_tenant_id'))

    op.drop_table('auto_bid_rule')
