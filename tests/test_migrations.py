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
