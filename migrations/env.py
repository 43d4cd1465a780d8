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
    """Run the migrations on ``connection``.

    SQLite: batch mode copies a table to change it and drops the old one; with
    foreign keys enforced, that DROP deletes (``ON DELETE CASCADE``) or refuses
    (``FOREIGN KEY constraint failed``) every row that refers to the table. So,
    as SQLite's documentation for such changes says, enforcement is off while
    the migrations run, ``PRAGMA foreign_key_check`` must then find nothing
    before the commit, and enforcement is on again afterwards.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no effect inside a transaction: before it
        connection.commit()  # ends what the PRAGMA began, so the migrations' transaction is their own
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migrations left rows whose foreign keys point nowhere: {broken[:5]}")
    finally:
        if sqlite:
            connection.rollback()  # nothing open after a success; after a failure, what it left
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


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
