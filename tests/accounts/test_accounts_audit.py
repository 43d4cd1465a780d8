"""The audit log: append-only, chained per tenant; `lendkit audit verify` names the first bad record."""
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from core.audit import audit, verify_chain
from core.audit.models import AuditIsAppendOnly, AuditRecord
from core.extensions import db
from core.tenancy import tenant_context


def _write(tenant, count, event="test.event"):
    with tenant_context(tenant):
        for i in range(count):
            audit(event, actor="cli", target=f"thing:{i}", details={"i": i})
        db.session.commit()


def _raw(sql, **params):
    """Change the table behind the ORM's back, as someone with database access could (trigger off)."""
    with db.engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(sa.text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update"))
        else:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_record_no_update"))
        conn.execute(sa.text(sql), params)
        if postgres:
            conn.execute(sa.text("ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_update"))
        else:
            conn.execute(sa.text("CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record "
                                 "BEGIN SELECT RAISE(ABORT, 'audit_record is append-only'); END"))


def _id(tenant, seq):
    with tenant_context(tenant):
        return db.session.scalar(select(AuditRecord.id).where(AuditRecord.seq == seq))


def test_records_chain_one_to_the_next_per_tenant(app, tenant_a, tenant_b):
    _write(tenant_a, 3)
    _write(tenant_b, 2)
    with tenant_context(tenant_a):
        records = db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
        assert [r.seq for r in records] == [1, 2, 3]
        assert records[0].prev_hash == "0" * 64 and records[1].prev_hash == records[0].hash
        assert verify_chain(tenant_a.id).ok
    with tenant_context(tenant_b):
        assert [r.seq for r in db.session.scalars(select(AuditRecord))] == [1, 2]


def test_verify_passes_on_an_intact_chain(lendkit, tenant_a):
    _write(tenant_a, 4)
    result = lendkit("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 0 and "intact (4 records)" in result.output


def test_an_altered_record_is_named(lendkit, tenant_a):
    _write(tenant_a, 5)
    _raw("UPDATE audit_record SET details = :d WHERE id = :id", d='{"i":99}', id=_id(tenant_a, 3))
    result = lendkit("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 1
    assert f"broken at record 3 (id {_id(tenant_a, 3)})" in result.output and "altered" in result.output


def test_a_rewritten_chain_is_still_caught_without_the_key(lendkit, tenant_a):
    _write(tenant_a, 3)
    import hashlib

    # an attacker with database access recomputes a plain hash: without the tenant's key it does not match
    _raw("UPDATE audit_record SET event = 'nothing', hash = :h WHERE id = :id",
         h=hashlib.sha256(b"forged").hexdigest(), id=_id(tenant_a, 2))
    result = lendkit("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 1 and "record 2" in result.output


def test_a_removed_record_is_named(lendkit, tenant_a):
    _write(tenant_a, 5)
    _raw("DELETE FROM audit_record WHERE id = :id", id=_id(tenant_a, 2))
    result = lendkit("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 1 and "record 2 is missing" in result.output


def test_removing_the_newest_records_is_noticed(lendkit, tenant_a):
    _write(tenant_a, 5)
    _raw("DELETE FROM audit_record WHERE id IN (:a, :b)", a=_id(tenant_a, 4), b=_id(tenant_a, 5))
    result = lendkit("audit", "verify", "--tenant", "alpha")
    assert result.exit_code == 1 and "record 4 is missing" in result.output


def test_one_tenants_tampering_does_not_touch_anothers_chain(lendkit, tenant_a, tenant_b):
    _write(tenant_a, 2)
    _write(tenant_b, 2)
    _raw("UPDATE audit_record SET actor = 'someone' WHERE id = :id", id=_id(tenant_a, 1))
    assert lendkit("audit", "verify", "--tenant", "alpha").exit_code == 1
    assert lendkit("audit", "verify", "--tenant", "beta").exit_code == 0


def test_the_orm_refuses_to_change_or_delete_a_record(app, tenant_a):
    _write(tenant_a, 1)
    with tenant_context(tenant_a):
        record = db.session.scalar(select(AuditRecord))
        record.details = "{}"
        with pytest.raises(AuditIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(select(AuditRecord)))
        with pytest.raises(AuditIsAppendOnly):
            db.session.flush()
        db.session.rollback()


def test_the_database_refuses_an_update(app, tenant_a):
    _write(tenant_a, 1)
    with pytest.raises(sa.exc.DBAPIError):
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_record SET event = 'x'"))


def test_an_unknown_tenant_is_a_clear_error(lendkit):
    result = lendkit("audit", "verify", "--tenant", "nobody")
    assert result.exit_code != 0 and "no tenant 'nobody'" in result.output


def test_security_events_are_recorded(client_a, tenant_a, kit):
    kit.register(client_a, "13800138000")
    client_a.post("/api/v1/auth/tokens", json={"mobile": "13800138000", "password": "wrong-pass-1"})
    kit.token(client_a, "13800138000")
    with tenant_context(tenant_a):
        records = db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    events = [r.event for r in records]
    assert events == ["user.registered", "login.failed", "login.succeeded"]
    assert records[1].ip == "127.0.0.1" and records[2].actor.startswith("user:")
    assert all("13800138000" not in r.details + r.target for r in records)


def test_the_audit_list_command_and_page(lendkit, client_a, tenant_a, kit):
    _write(tenant_a, 2, event="demo.event")
    assert "demo.event" in lendkit("audit", "list", "--tenant", "alpha").output
    secret = kit.staff(tenant_a, "13900000001", roles=("risk_officer",))
    kit.web_login(client_a, "13900000001", totp_secret=secret)
    assert "demo.event" in client_a.get("/staff/audit").get_data(as_text=True)
