"""Every key from one tenant-owned row to another includes the tenant (migration 0019, and 0017 for the ledger).

The ORM scopes every query to the bound tenant; the keys make the database
itself refuse a row of one tenant that refers to another tenant's row, and are
the keys a table distributed by ``tenant_id`` needs. Checked on the migrated
database of each backend, not on the models.
"""
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.tenancy.scoping import _scoped_table_names


def test_every_key_between_tenant_owned_tables_includes_the_tenant(app):
    inspector = sa.inspect(db.engine)
    owned = _scoped_table_names()
    keys = []
    for table in sorted(owned):
        for key in inspector.get_foreign_keys(table):
            if key["referred_table"] in owned:
                keys.append((table, key["constrained_columns"], key["referred_table"], key["referred_columns"]))
    assert len(keys) >= 26  # the ledger's two, the credit grade's, and the 23 of migration 0019
    for table, columns, referred, referred_columns in keys:
        pairs = dict(zip(columns, referred_columns))
        assert pairs.get("tenant_id") == "tenant_id", f"{table}{columns} → {referred}{referred_columns}"
        assert len(columns) == 2 and referred_columns[1] == "id", (table, columns, referred_columns)


def test_the_database_refuses_a_role_on_another_tenants_user(app, kit, tenant_a, tenant_b):
    kit.staff(tenant_a, "13900000001")
    kit.staff(tenant_b, "13900000002")
    alpha_user, beta_user = kit.user(tenant_a, "13900000001"), kit.user(tenant_b, "13900000002")
    role = sa.text("INSERT INTO user_role (tenant_id, user_id, role, granted_at) VALUES (:tenant, :user, 'reviewer',"
                   " CURRENT_TIMESTAMP)")
    with pytest.raises(IntegrityError):  # beta's role on alpha's user
        with db.engine.begin() as conn:
            conn.execute(role, {"tenant": tenant_b.id, "user": alpha_user})
    with db.engine.begin() as conn:  # the same statement with beta's own user is accepted
        conn.execute(role, {"tenant": tenant_b.id, "user": beta_user})
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM user_role WHERE role = 'reviewer'")).scalar() == 1
