"""Tenancy: data of one tenant cannot be read, changed or counted under another."""
import pytest
from sqlalchemy import delete, func, select, update

from core.extensions import db
from core.notices.models import Notice
from core.tenancy import ALL_TENANTS, CrossTenantWrite, TenantNotBound, tenant_context
from core.tenancy.resolve import host_name, tenant_for_host
from testbed import statements


def add_notice(tenant, key, title="Title"):
    with tenant_context(tenant):
        db.session.add(Notice(key=key, title=title, body="Body"))
        db.session.commit()


def test_inserts_are_stamped_with_the_bound_tenant(tenant_a):
    add_notice(tenant_a, "n1")
    with tenant_context(tenant_a):
        assert db.session.scalar(select(Notice)).tenant_id == tenant_a.id


def test_queries_see_only_the_bound_tenants_rows(tenant_a, tenant_b):
    add_notice(tenant_a, "a1")
    add_notice(tenant_a, "a2")
    add_notice(tenant_b, "b1")
    with tenant_context(tenant_a):
        assert sorted(n.key for n in db.session.scalars(select(Notice))) == ["a1", "a2"]
        assert db.session.scalar(select(func.count()).select_from(Notice)) == 2
        assert db.session.scalar(select(func.count(Notice.id))) == 2
    with tenant_context(tenant_b):
        assert [n.key for n in db.session.scalars(select(Notice))] == ["b1"]
        assert db.session.scalar(select(func.count()).select_from(Notice)) == 1


def test_get_by_id_of_another_tenants_row_finds_nothing(tenant_a, tenant_b):
    add_notice(tenant_a, "a1")
    with tenant_context(tenant_a):
        notice_id = db.session.scalar(select(Notice.id))
    with tenant_context(tenant_b):
        assert db.session.get(Notice, notice_id) is None
        assert db.session.scalar(select(Notice).where(Notice.id == notice_id)) is None


def test_bulk_update_and_delete_cannot_reach_another_tenant(tenant_a, tenant_b):
    add_notice(tenant_a, "a1", title="kept")
    with tenant_context(tenant_b):
        result = db.session.execute(update(Notice).values(title="changed"))
        assert result.rowcount == 0
        assert db.session.execute(delete(Notice)).rowcount == 0
        db.session.commit()
    with tenant_context(tenant_a):
        assert db.session.scalar(select(Notice.title)) == "kept"


def test_no_bound_tenant_is_an_error_not_a_cross_tenant_read(tenant_a):
    add_notice(tenant_a, "a1")
    with pytest.raises(TenantNotBound):
        db.session.scalars(select(Notice)).all()
    with pytest.raises(TenantNotBound):
        db.session.scalar(select(func.count()).select_from(Notice))
    db.session.add(Notice(key="x", title="t", body="b"))
    with pytest.raises(TenantNotBound):
        db.session.flush()
    db.session.rollback()


def test_writing_another_tenants_object_is_refused(tenant_a, tenant_b):
    with tenant_context(tenant_b):
        db.session.add(Notice(key="x", title="t", body="b", tenant_id=tenant_a.id))
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()


def test_the_explicit_opt_out_sees_every_tenant(tenant_a, tenant_b):
    add_notice(tenant_a, "a1")
    add_notice(tenant_b, "b1")
    rows = db.session.scalars(select(Notice).execution_options(**{ALL_TENANTS: True})).all()
    assert sorted(n.key for n in rows) == ["a1", "b1"]


def test_switching_tenant_with_unsaved_changes_is_refused(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        db.session.add(Notice(key="x", title="t", body="b"))
        with pytest.raises(RuntimeError, match="commit or roll back"):
            with tenant_context(tenant_b):
                pass
        db.session.rollback()


def test_the_same_key_may_exist_in_two_tenants(tenant_a, tenant_b):
    add_notice(tenant_a, "same")
    add_notice(tenant_b, "same")
    rows = db.session.scalars(select(Notice).execution_options(all_tenants=True)).all()
    assert len(rows) == 2


@pytest.mark.parametrize(
    "raw, expected",
    [("Alpha.Test:5000", "alpha.test"), ("alpha.test", "alpha.test"), ("[::1]:80", "[::1]")],
)
def test_host_names_are_normalised(raw, expected):
    assert host_name(raw) == expected


def test_hosts_resolve_to_their_tenant_and_unknown_hosts_to_none(tenant_a, tenant_b):
    assert tenant_for_host("alpha.test") == tenant_a
    assert tenant_for_host("ALPHA.TEST:8080") == tenant_a
    assert tenant_for_host("beta.localhost") == tenant_b  # every tenant answers at <slug>.localhost in development
    assert tenant_for_host("gamma.test") is None


def test_counts_over_subqueries_are_scoped_too(tenant_a, tenant_b):
    add_notice(tenant_a, "a1")
    add_notice(tenant_b, "b1")
    with tenant_context(tenant_b):
        inner = select(Notice).subquery()
        assert db.session.scalar(select(func.count()).select_from(inner)) == 1


def test_a_core_statement_on_a_tenant_table_is_refused(tenant_a):
    from core.tenancy.scoping import CoreStatementOnTenantTable

    with tenant_context(tenant_a):
        with pytest.raises(CoreStatementOnTenantTable):
            db.session.execute(select(Notice.__table__))


def test_a_bulk_insert_naming_another_tenant_is_refused(tenant_a, tenant_b):
    from sqlalchemy import insert

    row = {"key": "x", "title": "t", "body": "b"}
    with tenant_context(tenant_b):
        with pytest.raises(CrossTenantWrite):
            db.session.execute(insert(Notice), [{**row, "tenant_id": tenant_b.id}, {**row, "key": "y", "tenant_id": tenant_a.id}])
        db.session.rollback()
        with pytest.raises(CrossTenantWrite):
            db.session.execute(insert(Notice).values(**row, tenant_id=tenant_a.id))
        db.session.rollback()
        db.session.execute(insert(Notice), [{**row, "tenant_id": tenant_b.id}])
        db.session.commit()
    with tenant_context(tenant_a):
        assert db.session.scalar(select(func.count()).select_from(Notice)) == 0
    with tenant_context(tenant_b):
        assert db.session.scalar(select(func.count()).select_from(Notice)) == 1


def test_an_update_cannot_move_rows_to_another_tenant(tenant_a, tenant_b):
    add_notice(tenant_a, "a1")
    with tenant_context(tenant_a):
        with pytest.raises(CrossTenantWrite):
            db.session.execute(update(Notice).values(tenant_id=tenant_b.id))
        db.session.rollback()
        assert db.session.execute(update(Notice).values(title="renamed", tenant_id=tenant_a.id)).rowcount == 1
        db.session.commit()
    with tenant_context(tenant_b):
        assert db.session.scalar(select(func.count()).select_from(Notice)) == 0


def test_a_tenant_row_the_transaction_did_not_change_is_not_read_again_after_a_commit(app, tenant_a):
    """A request commits several times; its tenant's row (and JSON configuration) is read once."""
    config, name = tenant_a.config, tenant_a.name
    add_notice(tenant_a, "kept")
    with statements() as seen:
        assert tenant_a.config == config and tenant_a.name == name
        assert db.session.get(type(tenant_a), tenant_a.id) is tenant_a
    assert not [s for s in seen if "FROM tenant" in s]


def test_a_tenant_row_changed_in_the_transaction_is_read_again_after_the_commit(app, tenant_a):
    from sqlalchemy import text

    before = tenant_a.updated_at
    tenant_a.name = "Alpha Renamed"
    db.session.commit()
    with statements() as seen:
        assert tenant_a.name == "Alpha Renamed"
        assert tenant_a.updated_at != before  # set by the database's row, not kept from before the change
    assert [s for s in seen if "FROM tenant" in s]
    # a rollback forgets every row as before
    db.session.execute(text("UPDATE tenant SET name = 'Changed Elsewhere' WHERE id = :id"), {"id": tenant_a.id})
    db.session.rollback()
    assert tenant_a.name == "Alpha Renamed"
