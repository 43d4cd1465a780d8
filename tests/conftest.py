"""Fixtures every test file shares.

* The suite runs on SQLite, and also on PostgreSQL when
  ``LENDKIT_TEST_DATABASE_URL`` is set: every test that uses a database runs
  once per backend (``[sqlite]`` / ``[postgresql]`` in its id).
* Each backend gets a fresh database, migrated by alembic once per session;
  every test then starts from empty tables holding only the two test tenants
  ``alpha`` (host ``alpha.test``) and ``beta`` (``beta.test``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.app import create_app
from core.extensions import db

from testbed import TEST_TENANTS, HostClient, Kit  # noqa: F401  (HostClient used by the client fixtures)
PG_URL = os.environ.get("LENDKIT_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_admin(url: str, sql: str) -> None:
    admin = sa.create_engine(make_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(sql))
    admin.dispose()


def _fresh_postgres(url: str) -> str:
    """A new empty database next to the one in ``url``, for this run and xdist worker."""
    base = make_url(url)
    name = f"{base.database}_lendkit_{_worker()}_{os.getpid()}"
    _postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _postgres_admin(url, f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


def migrate(url: str) -> None:
    from alembic import command

    from core.cli import alembic_config

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LENDKIT_ENV": "testing"})
    with app.app_context():
        command.upgrade(alembic_config(), "heads")
        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A migrated, empty database per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'lendkit.db'}"
        migrate(url)
        yield url
        return
    url = _fresh_postgres(PG_URL)
    migrate(url)
    yield url
    _postgres_admin(PG_URL, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture
def make_app(database_url, tmp_path):
    """Factory: an app on the test database with extra config overrides."""
    apps = []

    def _make(**overrides):
        config = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "LENDKIT_ENV": "testing",
            "LENDKIT_TENANTS_DIR": str(TEST_TENANTS),
            "LENDKIT_INSTANCE_PATH": str(tmp_path / "instance"),
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": None,
        }
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield _make
    for app in apps:
        with app.app_context():
            db.session.remove()
            _empty_tables()
            db.engine.dispose()


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def app(make_app, monkeypatch, tmp_path):
    """The app with tenants ``alpha`` and ``beta`` loaded, in an app context."""
    monkeypatch.chdir(tmp_path)  # providers' relative files (sandbox bank, SMS outbox) land here
    application = make_app()
    with application.app_context():
        from core.tenancy.sync import sync_tenants

        sync_tenants()
        yield application
        db.session.remove()


@pytest.fixture
def tenant_a(app):
    from core.tenancy.models import Tenant

    return Tenant.by_slug("alpha")


@pytest.fixture
def tenant_b(app):
    from core.tenancy.models import Tenant

    return Tenant.by_slug("beta")


@pytest.fixture
def client_a(app):
    return HostClient(app, "alpha.test")


@pytest.fixture
def client_b(app):
    return HostClient(app, "beta.test")


@pytest.fixture
def lendkit(app):
    """Run a ``lendkit`` command against the test app: ``lendkit("tenant", "list")``."""
    from core.cli import cli

    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(cli, list(args))

    return invoke


@pytest.fixture
def kit(app):
    """Users, staff with TOTP, one-time codes, KYC: see :class:`testbed.Kit`."""
    Kit._used_steps = {}
    return Kit(app)
