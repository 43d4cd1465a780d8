"""Alembic environment: lendkit's schema is changed only through these migrations.

Run through ``lendkit db upgrade`` (which sets ``sqlalchemy.url`` from
``LENDKIT_DATABASE_URL``). SQLite gets batch mode so ALTERs work there too.
"""
from alembic import context
from sqlalchemy import engine_from_config, pool

import core.models  # noqa: F401  (every model)
from core.extensions import db

config = context.config
target_metadata = db.metadata


def run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        run_with(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
