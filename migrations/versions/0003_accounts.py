"""accounts, sessions, codes, KYC, bank cards, audit log

Its own branch off 0001. Besides the tables, a trigger refuses any UPDATE of
audit_record on both SQLite and PostgreSQL (the log is append-only; deletes
are refused by the ORM and detected by ``lendkit audit verify``).

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21 21:31:30.603508
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_audit_head_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_audit_head_tenant_id'))
    )
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_head_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('audit_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_audit_record_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_record')),
    sa.UniqueConstraint('tenant_id', 'seq', name=op.f('uq_audit_record_tenant_id_seq'))
    )
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_record_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_record_event'), ['event'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_record_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('otp_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mobile_index', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('message_id', sa.String(length=100), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("purpose IN ('register', 'login', 'reset_password', 'change_mobile_old', 'change_mobile_new')", name=op.f('ck_otp_code_purpose')),
    sa.CheckConstraint("status IN ('active', 'used', 'superseded', 'burned')", name=op.f('ck_otp_code_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_otp_code_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_otp_code'))
    )
    with op.batch_alter_table('otp_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_otp_code_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_otp_code_ip'), ['ip'], unique=False)
        batch_op.create_index(batch_op.f('ix_otp_code_mobile_index'), ['mobile_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_otp_code_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('mobile_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('mobile_index', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('transaction_password_hash', sa.String(length=255), nullable=True),
    sa.Column('transaction_failures', sa.Integer(), nullable=False),
    sa.Column('transaction_locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totp_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('totp_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('terms_accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('person', 'enterprise')", name=op.f('ck_user_account_kind')),
    sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f('ck_user_account_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_user_account_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('tenant_id', 'mobile_index', name=op.f('uq_user_account_tenant_id_mobile_index'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_account_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('auth_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('second_factor', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('web', 'api')", name=op.f('ck_auth_session_kind')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_auth_session_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_auth_session_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_session_token_hash'))
    )
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_session_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_session_user_id'), ['user_id'], unique=False)

    op.create_table('bank_card',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('card_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('card_index', sa.String(length=64), nullable=False),
    sa.Column('bank_name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'active', 'failed')", name=op.f('ck_bank_card_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_bank_card_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_bank_card_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_card')),
    sa.UniqueConstraint('tenant_id', 'card_index', name=op.f('uq_bank_card_tenant_id_card_index'))
    )
    with op.batch_alter_table('bank_card', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_card_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_card_user_id'), ['user_id'], unique=False)

    op.create_table('kyc_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('name_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('id_number_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('id_number_index', sa.String(length=64), nullable=True),
    sa.Column('company_name', sa.String(length=200), nullable=True),
    sa.Column('uscc_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('uscc_index', sa.String(length=64), nullable=True),
    sa.Column('bureau_result', sa.String(length=32), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('person', 'enterprise')", name=op.f('ck_kyc_application_kind')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_kyc_application_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_kyc_application_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_kyc_application_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kyc_application'))
    )
    with op.batch_alter_table('kyc_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kyc_application_id_number_index'), ['id_number_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_kyc_application_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_kyc_application_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kyc_application_uscc_index'), ['uscc_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_kyc_application_user_id'), ['user_id'], unique=False)

    op.create_table('user_role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("role IN ('borrower', 'investor', 'tenant_admin', 'reviewer', 'risk_officer', 'finance', 'support')", name=op.f('ck_user_role_role')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_user_role_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_role_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_role')),
    sa.UniqueConstraint('tenant_id', 'user_id', 'role', name=op.f('uq_user_role_tenant_id_user_id_role'))
    )
    with op.batch_alter_table('user_role', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_role_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_role_user_id'), ['user_id'], unique=False)

    op.create_table('kyc_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('storage_name', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('id_front', 'id_back', 'id_holding', 'business_licence')", name=op.f('ck_kyc_document_kind')),
    sa.ForeignKeyConstraint(['application_id'], ['kyc_application.id'], name=op.f('fk_kyc_document_application_id_kyc_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_kyc_document_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kyc_document'))
    )
    with op.batch_alter_table('kyc_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kyc_document_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kyc_document_tenant_id'), ['tenant_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_record is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record "
            "FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record "
            "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only'); END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_update ON audit_record")
        op.execute("DROP FUNCTION IF EXISTS audit_record_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_update")
    with op.batch_alter_table('kyc_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kyc_document_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_kyc_document_application_id'))

    op.drop_table('kyc_document')
    with op.batch_alter_table('user_role', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_role_user_id'))
        batch_op.drop_index(batch_op.f('ix_user_role_tenant_id'))

    op.drop_table('user_role')
    with op.batch_alter_table('kyc_application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kyc_application_user_id'))
        batch_op.drop_index(batch_op.f('ix_kyc_application_uscc_index'))
        batch_op.drop_index(batch_op.f('ix_kyc_application_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_kyc_application_status'))
        batch_op.drop_index(batch_op.f('ix_kyc_application_id_number_index'))

    op.drop_table('kyc_application')
    with op.batch_alter_table('bank_card', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_card_user_id'))
        batch_op.drop_index(batch_op.f('ix_bank_card_tenant_id'))

    op.drop_table('bank_card')
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_session_user_id'))
        batch_op.drop_index(batch_op.f('ix_auth_session_tenant_id'))

    op.drop_table('auth_session')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_tenant_id'))

    op.drop_table('user_account')
    with op.batch_alter_table('otp_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_otp_code_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_otp_code_mobile_index'))
        batch_op.drop_index(batch_op.f('ix_otp_code_ip'))
        batch_op.drop_index(batch_op.f('ix_otp_code_created_at'))

    op.drop_table('otp_code')
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_record_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_audit_record_event'))
        batch_op.drop_index(batch_op.f('ix_audit_record_actor_id'))

    op.drop_table('audit_record')
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_head_tenant_id'))

    op.drop_table('audit_head')
