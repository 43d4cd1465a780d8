"""core.kept: rows a transaction wrote (or read and left alone) are not read again after its commit."""
from sqlalchemy import select, text

from core.extensions import db
from core.kept import keep_after_commit
from core.notices.models import Notice
from core.tenancy import tenant_context
from testbed import statements


def _as_stored(notice_id):
    """The row as the database holds it, read by a statement of its own."""
    return db.session.execute(
        select(Notice.__table__).where(Notice.__table__.c.id == notice_id).execution_options(all_tenants=True)
    ).one()._asdict()


def test_an_object_kept_after_commit_is_not_read_again_and_holds_what_the_database_holds(tenant_a):
    with tenant_context(tenant_a):
        notice = Notice(key="kept", title="Title", body="Body")
        db.session.add(notice)
        db.session.flush()
        keep_after_commit(notice)
        db.session.commit()
        with statements() as seen:
            values = {c.key: getattr(notice, c.key) for c in Notice.__mapper__.column_attrs}
        assert seen == []
        assert values == _as_stored(notice.id)  # same values, same types (SQLite: naive datetimes)


def test_without_asking_an_object_is_read_again_after_commit(tenant_a):
    with tenant_context(tenant_a):
        notice = Notice(key="not-kept", title="Title", body="Body")
        db.session.add(notice)
        db.session.commit()
        with statements() as seen:
            assert notice.title == "Title"
        assert any("FROM notice" in s for s in seen)


def test_a_rollback_keeps_nothing(tenant_a):
    with tenant_context(tenant_a):
        notice = Notice(key="stored", title="Title", body="Body")
        db.session.add(notice)
        db.session.commit()
        notice.title = "Changed"
        db.session.flush()
        keep_after_commit(notice)
        db.session.rollback()
        assert notice.title == "Title"  # read again: the rollback undid the change
        db.session.execute(text("UPDATE notice SET title = 'Changed elsewhere' WHERE id = :id"), {"id": notice.id})
        db.session.commit()  # what the rolled-back transaction asked to keep is not given back by this commit
        assert notice.title == "Changed elsewhere"


def test_what_a_closed_session_noted_is_not_kept_by_its_next_transaction(tenant_a):
    with tenant_context(tenant_a):
        notice = Notice(key="closed", title="Title", body="Body")
        db.session.add(notice)
        db.session.commit()
        notice_id = notice.id
        notice.title = "Flushed"
        db.session.flush()
        keep_after_commit(notice)
        db.session.close()  # the transaction ends without a commit (rolled back)
        notice = db.session.get(Notice, notice_id)
        assert notice.title == "Title"
        db.session.execute(text("UPDATE notice SET title = 'Changed elsewhere' WHERE id = :id"), {"id": notice_id})
        db.session.commit()
        assert notice.title == "Changed elsewhere"


def test_a_tenant_attached_from_elsewhere_is_read_again_after_a_commit(app, tenant_a):
    from sqlalchemy.orm import make_transient_to_detached

    from core.tenancy.models import Tenant

    tenant_id = tenant_a.id
    db.session.expunge(tenant_a)
    copy = Tenant(**{c.key: getattr(tenant_a, c.key) for c in Tenant.__mapper__.column_attrs})
    copy.name = "Not what the row holds"
    make_transient_to_detached(copy)  # as if clean: values of no transaction of this session
    db.session.add(copy)
    db.session.commit()
    assert db.session.get(Tenant, tenant_id).name != "Not what the row holds"


def test_a_partly_loaded_object_is_read_again(tenant_a):
    with tenant_context(tenant_a):
        notice = Notice(key="partly", title="Title", body="Body")
        db.session.add(notice)
        db.session.commit()
        assert notice.title == "Title"  # loaded again, every column
        db.session.expire(notice, ["body"])
        keep_after_commit(notice)
        db.session.commit()
        with statements() as seen:
            assert notice.body == "Body"
        assert any("FROM notice" in s for s in seen)
