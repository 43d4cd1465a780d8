"""Against the sandbox bank server over real HTTP on 127.0.0.1: callbacks, faults, recovery by query."""
import json
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from core.custody import instructions, service
from core.custody.instructions import resolve_unknown
from core.custody.models import CustodyInstruction
from core.custody.provider import Instruction
from core.custody.reconcile import reconcile
from core.extensions import db
from core.ledger.balances import verify
from core.tenancy import tenant_context
from plugins.payment_custody.bank_server import FaultConfig

from flow_fixtures import Flow, bank_server, use_provider, wait_for  # noqa: F401  (fixtures)



def today():
    return datetime.now(timezone.utc).date()


def state_of(request_no: str) -> str:
    return db.session.scalar(select(CustodyInstruction.state).where(CustodyInstruction.request_no == request_no)
                             .execution_options(populate_existing=True))


def movements(server, request_no: str) -> int:
    return sum(1 for line in server.engine.statement(today(), "CNY").lines if line.request_no == request_no)


def setup_users(flow: Flow, *users):
    flow.open_platform()
    for user in users:
        flow.open_user(user)


def test_an_asynchronous_deposit_is_confirmed_by_the_banks_callback(bank_server, tenant_a):
    server = bank_server(FaultConfig(duplicate_callbacks=1.0, seed=3))
    with tenant_context(tenant_a):
        flow = Flow()
        setup_users(flow, 1)
        deposit = service.deposit(1, 25_000, key="dep-1")
        assert deposit.state == "sent" and deposit.entry.state == "pending"
        wait_for(lambda: state_of(deposit.request_no) == "confirmed")
        assert server.bank.wait_idle(timeout=10)
        assert flow.available(1) == 25_000  # the duplicate notice changed nothing
        assert server.bank.stats["callbacks_duplicated"] >= 1
        assert movements(server, deposit.request_no) == 1
        assert verify() == [] and reconcile(today()).status == "clean"


def test_an_error_after_the_bank_applied_is_resolved_by_query_without_moving_twice(bank_server, tenant_a):
    server = bank_server()
    with tenant_context(tenant_a):
        flow = Flow()
        setup_users(flow, 1)
        deposit = service.deposit(1, 10_000, key="d")
        wait_for(lambda: state_of(deposit.request_no) == "confirmed")
        server.set_faults(FaultConfig(error_rate=1.0, error_mode="after", seed=1))
        bid = service.freeze(1, 4_000, key="bid")
        assert bid.state == "unknown" and bid.entry.state == "pending"
        assert flow.spendable(1) == 6_000  # reserved while unknown
        assert movements(server, bid.request_no) == 1  # the bank did apply it
        server.set_faults(FaultConfig())
        counts = resolve_unknown()
        assert counts["confirmed"] >= 1 and counts["open"] == 0
        assert state_of(bid.request_no) == "confirmed"
        assert (flow.available(1), flow.frozen(1)) == (6_000, 4_000)
        assert movements(server, bid.request_no) == 1
        assert service.freeze(1, 4_000, key="bid").state == "confirmed"  # a replay sends nothing
        assert movements(server, bid.request_no) == 1
        assert reconcile(today()).status == "clean"


def test_a_timeout_leaves_the_instruction_unknown_until_a_query_settles_it(bank_server, tenant_a):
    # a second to answer: opening five accounts on a busy machine must not time out, only the slow bank below
    server = bank_server(read_timeout=1.0, retries=0)
    with tenant_context(tenant_a):
        flow = Flow()
        setup_users(flow, 1, 2)
        deposit = service.deposit(1, 9_000, key="d")
        wait_for(lambda: state_of(deposit.request_no) == "confirmed")
        server.set_faults(FaultConfig(latency_ms=2_500, latency_rate=1.0))
        pay = service.transfer(1, 2, 5_000, key="pay")
        assert pay.state == "unknown" and pay.reason == "read_timeout"
        assert resolve_unknown()["failed"] == 1  # the query times out too while the bank is slow
        assert state_of(pay.request_no) == "unknown"
        server.set_faults(FaultConfig())
        resolve_unknown()
        assert state_of(pay.request_no) == "confirmed"
        assert flow.available(2) == 5_000 and movements(server, pay.request_no) == 1
        assert reconcile(today()).status == "clean"


def test_a_request_the_bank_did_not_accept_is_resent_under_the_same_number(bank_server, tenant_a):
    server = bank_server(retries=1)
    with tenant_context(tenant_a):
        flow = Flow()
        setup_users(flow, 1)
        server.set_faults(FaultConfig(error_rate=1.0, error_mode="before"))
        deposit = service.deposit(1, 300, key="d")
        assert deposit.state == "created" and deposit.attempts == 1 and deposit.reason == "http_503"
        server.set_faults(FaultConfig())
        again = service.deposit(1, 300, key="d")  # the caller retries with the same key
        assert again.request_no == deposit.request_no and again.state in ("sent", "confirmed")
        wait_for(lambda: state_of(deposit.request_no) == "confirmed")
        assert flow.available(1) == 300 and movements(server, deposit.request_no) == 1


def test_an_instruction_the_bank_never_saw_is_submitted_again_by_resolve(bank_server, tenant_a):
    server = bank_server()
    with tenant_context(tenant_a):
        flow = Flow()
        setup_users(flow, 1)
        created, _ = instructions.create(
            lambda no: Instruction(no, "deposit", "U1", 800, "CNY"), kind="deposit", key="lost",
            lines=[("platform:bank_clearing", 800), ("user:1:available", -800)])
        instructions.apply_result(created.id, None, unknown_reason="connection_error")  # as if the request was lost
        assert state_of(created.request_no) == "unknown"
        assert server.engine.query(created.request_no).reason == "unknown_request"
        resolve_unknown()  # the bank never saw it: the same request number is submitted
        wait_for(lambda: state_of(created.request_no) == "confirmed")
        assert flow.available(1) == 800 and movements(server, created.request_no) == 1


def test_a_callback_with_a_bad_signature_is_rejected_and_logged(bank_server, tenant_a, client_a, caplog):
    server = bank_server()
    with tenant_context(tenant_a):
        flow = Flow()
        setup_users(flow, 1)
        server.set_faults(FaultConfig(drop_callbacks=1.0))
        deposit = service.deposit(1, 500, key="d")
        request_no = deposit.request_no
        assert server.bank.wait_idle(timeout=10)
        assert state_of(request_no) == "sent"  # the bank settled it but its notice was lost
    payload = json.dumps({"request_no": request_no, "status": "confirmed", "bank_ref": "X"}).encode()
    forged = server.sign_callback(payload, private_key=server.platform_private)  # not the bank's key
    with caplog.at_level(logging.WARNING, logger="lendkit.custody"):
        response = client_a.post("/api/v1/custody/callback", data=payload, headers=forged)
    assert response.status_code == 401
    assert response.json == {"code": 401, "status": "Unauthorized", "message": "The notice's signature does not verify."}
    assert "custody callback for tenant alpha rejected: bad_signature" in caplog.text
    with tenant_context(tenant_a):
        assert state_of(request_no) == "sent"
    genuine = server.sign_callback(json.dumps(dict(server.engine.query(request_no).raw)).encode())
    response = client_a.post("/api/v1/custody/callback", data=json.dumps(dict(server.engine.query(request_no).raw)),
                             headers=genuine)
    assert response.status_code == 200 and response.json == {"request_no": request_no, "state": "confirmed"}
    with tenant_context(tenant_a):
        assert Flow.available(1) == 500


def test_a_notice_for_another_tenants_instruction_changes_nothing(bank_server, tenant_a, tenant_b, client_b):
    server = bank_server()
    use_provider(tenant_b, "http", server.settings)  # beta trusts the same bank keys
    alpha, beta = tenant_a.id, tenant_b.id
    with tenant_context(alpha):
        flow = Flow()
        setup_users(flow, 1)
        server.set_faults(FaultConfig(drop_callbacks=1.0))
        deposit = service.deposit(1, 500, key="d")
        assert server.bank.wait_idle(timeout=10)
        request_no = deposit.request_no
    body = json.dumps(dict(server.engine.query(request_no).raw)).encode()
    response = client_b.post("/api/v1/custody/callback", data=body, headers=server.sign_callback(body))
    assert response.status_code == 404 and response.json["code"] == 404
    with tenant_context(beta):
        assert instructions.instruction_by_request_no(request_no) is None
    with tenant_context(alpha):
        assert state_of(request_no) == "sent"
        assert resolve_unknown()["confirmed"] == 1
        assert Flow.available(1) == 500


def test_faults_do_not_break_the_books_for_a_short_random_run(bank_server, tenant_a):
    """A quick cousin of the soak test, run on every backend."""
    server = bank_server(read_timeout=0.3, retries=1)
    with tenant_context(tenant_a):
        flow = Flow()
        setup_users(flow, 1, 2)
        server.set_faults(FaultConfig(error_rate=0.2, latency_ms=400, latency_rate=0.1, drop_callbacks=0.3,
                                      duplicate_callbacks=0.3, delay_callbacks=20, reorder_callbacks=True, seed=7))
        outcomes = Counter()
        for i in range(20):
            outcomes[service.deposit(1 + i % 2, 1_000 + i, key=f"d{i}").state] += 1
        server.set_faults(FaultConfig())
        assert server.bank.wait_idle(timeout=15)
        for _ in range(5):
            if resolve_unknown(grace=timedelta(0))["open"] == 0:
                break
        assert db.session.scalars(select(CustodyInstruction.state).distinct()).all() == ["confirmed"]
        assert flow.available(1) + flow.available(2) == sum(1_000 + i for i in range(20))
        assert verify() == [] and reconcile(today()).status == "clean"
