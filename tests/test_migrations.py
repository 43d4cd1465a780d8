"""The schema changes only through migrations: models and migrations must agree."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations; write one with `lendkit db revision`: {diff}"


def test_migrations_run_down_and_up_again(make_app, tmp_path):
    from alembic import command

    from core.cli import alembic_config

    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'updown.db'}")
    with app.app_context():
        config = alembic_config()
        command.upgrade(config, "heads")
        command.downgrade(config, "base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        command.upgrade(config, "heads")
        assert "notice" in sa.inspect(db.engine).get_table_names()


def test_a_sqlite_database_holding_books_and_loans_migrates_without_losing_a_row(make_app, tmp_path):
    """Batch mode copies a table and drops the old one: with rows referring to it, that DROP must not
    cascade-delete them or fail on them (foreign keys are off while migrating, checked before the commit)."""
    from alembic import command

    from core.cli import alembic_config

    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        config = alembic_config()
        command.upgrade(config, "0016")  # before the ledger's and the lending tables' keys changed
        with db.engine.begin() as conn:
            run = conn.exec_driver_sql
            run("INSERT INTO tenant (id, slug, name, default_locale, currency, theme, config, config_digest, stage,"
                " active, created_at, updated_at) VALUES (1, 'old', 'Old', 'en', 'CNY', 'default', '{}', '0',"
                " 'live', 1, '2026-01-01', '2026-01-01')")
            for account_id, code in ((1, "platform:bank_clearing"), (2, "user:7:available")):
                run("INSERT INTO ledger_account (id, tenant_id, code, kind, normal_side, currency, balance,"
                    " pending_debit, pending_credit, created_at) VALUES (?, 1, ?, 'asset', 'debit', 'CNY', 0, 0, 0,"
                    " '2026-01-01')", (account_id, code))
            run("INSERT INTO journal_entry (id, tenant_id, idempotency_key, digest, kind, memo, state, created_at)"
                " VALUES (1, 1, 'k', 'd', 'deposit', '', 'posted', '2026-01-01')")
            run("INSERT INTO journal_line (tenant_id, entry_id, account_id, amount, currency)"
                " VALUES (1, 1, 1, 500, 'CNY'), (1, 1, 2, -500, 'CNY')")
            run("INSERT INTO custody_instruction (tenant_id, request_no, idempotency_key, digest, kind, state,"
                " provider, body, entry_id, memo, attempts, created_at, updated_at) VALUES (1, 'R1', 'i', 'd',"
                " 'deposit', 'confirmed', 'sandbox', '{}', 1, '', 1, '2026-01-01', '2026-01-01')")
        command.upgrade(config, "heads")
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM journal_line").scalar() == 2
            assert conn.exec_driver_sql("SELECT entry_id FROM custody_instruction").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
