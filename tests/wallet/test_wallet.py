"""The wallet: balances, idempotent deposits and withdrawals, history with filters and CSV, per tenant."""
import csv
import io

import pytest

from testbed import bank_card

MOBILE = "13800000201"
TX_PASSWORD = "trade-pass-77"


@pytest.fixture
def investor(kit, client_a, tenant_a):
    from core.custody.service import open_platform
    from core.tenancy import tenant_context

    with tenant_context(tenant_a):
        assert all(i.state == "confirmed" for i in open_platform(name="Alpha Lending Ltd.", registration_number="X1", card_number=bank_card("622202000000000001")))
    token = kit.verified_user(client_a, tenant_a, MOBILE)
    bound = client_a.post("/api/v1/me/bank-cards", json={"card_number": bank_card(), "bank_name": "ICBC"}, headers=kit.bearer(token))
    assert bound.status_code == 201, bound.json
    set_tx = client_a.post("/api/v1/me/transaction-password", json={"login_password": kit.PASSWORD, "transaction_password": TX_PASSWORD}, headers=kit.bearer(token))
    assert set_tx.status_code == 204, set_tx.json
    return kit.bearer(token)


def money(amount, currency="CNY"):
    return {"amount": amount, "currency": currency}


def deposit(client, headers, amount, key):
    return client.post("/api/v1/wallet/deposits", json={"amount": money(amount)}, headers={**headers, "Idempotency-Key": key})


def test_a_deposit_is_counted_once_however_often_it_is_sent(client_a, investor):
    first = deposit(client_a, investor, 100_000, "dep-1")
    assert first.status_code == 201, first.json
    again = deposit(client_a, investor, 100_000, "dep-1")
    assert again.json["request_no"] == first.json["request_no"]
    balances = client_a.get("/api/v1/wallet", headers=investor).json
    assert balances["available"] == money(100_000) and balances["frozen"] == money(0)


def test_a_used_key_with_another_body_is_refused(client_a, investor):
    deposit(client_a, investor, 100_000, "dep-1")
    conflict = deposit(client_a, investor, 5, "dep-1")
    assert conflict.status_code == 409 and conflict.json["errors"] == {"code": ["idempotency_conflict"]}


def test_money_moving_requests_need_an_idempotency_key(client_a, investor):
    response = client_a.post("/api/v1/wallet/deposits", json={"amount": money(100)}, headers=investor)
    assert response.status_code == 400 and "Idempotency-Key" in response.json["message"]


def test_bad_amounts_are_refused_with_field_errors(client_a, investor):
    for body in ({"amount": money(0)}, {"amount": money(1.5)}, {"amount": money(100, "USD")}, {}):
        response = client_a.post("/api/v1/wallet/deposits", json=body, headers={**investor, "Idempotency-Key": "x"})
        assert response.status_code == 422 and "errors" in response.json, body


def test_a_withdrawal_needs_the_transaction_password_and_enough_funds(client_a, investor):
    deposit(client_a, investor, 50_000, "dep-1")
    wrong = client_a.post("/api/v1/wallet/withdrawals", json={"amount": money(10_000), "transaction_password": "nope-nope-1"},
                          headers={**investor, "Idempotency-Key": "w1"})
    assert wrong.status_code == 403
    too_much = client_a.post("/api/v1/wallet/withdrawals", json={"amount": money(60_000), "transaction_password": TX_PASSWORD},
                             headers={**investor, "Idempotency-Key": "w2"})
    assert too_much.status_code == 422 and too_much.json["errors"] == {"code": ["insufficient_funds"]}
    ok = client_a.post("/api/v1/wallet/withdrawals", json={"amount": money(10_000), "transaction_password": TX_PASSWORD},
                       headers={**investor, "Idempotency-Key": "w3"})
    assert ok.status_code == 201, ok.json
    assert client_a.get("/api/v1/wallet", headers=investor).json["available"] == money(40_000)


def test_history_filters_and_csv(client_a, investor):
    deposit(client_a, investor, 30_000, "dep-1")
    client_a.post("/api/v1/wallet/withdrawals", json={"amount": money(10_000), "transaction_password": TX_PASSWORD},
                  headers={**investor, "Idempotency-Key": "w1"})
    lines = client_a.get("/api/v1/wallet/transactions", headers=investor).json
    assert [(l["kind"], l["amount"]["amount"]) for l in lines] == [("withdraw", -10_000), ("deposit", 30_000)]
    only = client_a.get("/api/v1/wallet/transactions?kind=deposit", headers=investor).json
    assert [l["kind"] for l in only] == ["deposit"]
    assert client_a.get("/api/v1/wallet/transactions?kind=gift", headers=investor).status_code == 422
    assert client_a.get("/api/v1/wallet/transactions?until=2000-01-01", headers=investor).json == []
    exported = client_a.get("/api/v1/wallet/transactions?format=csv", headers=investor)
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["kind"], r["amount"]) for r in rows] == [("withdraw", "-100.00"), ("deposit", "300.00")]


def test_without_a_bound_card_the_wallet_says_so(kit, client_a):
    kit.register(client_a, "13800000299")
    headers = kit.bearer(kit.token(client_a, "13800000299"))
    assert client_a.get("/api/v1/wallet", headers=headers).status_code == 409
    assert deposit(client_a, headers, 100, "k").status_code == 409


def test_the_wallet_page_shows_balances_and_moves_money(kit, client_a, investor):
    kit.web_login(client_a, MOBILE)
    response = client_a.post("/wallet/deposit", data={"amount": "250.00", "key": "page-1"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "is now in your custody account" in page and "250.00" in page
    client_a.post("/wallet/deposit", data={"amount": "250.00", "key": "page-1"})  # a double click: one deposit
    assert client_a.get("/api/v1/wallet", headers=investor).json["available"] == money(25_000)
    bad = client_a.post("/wallet/withdraw", data={"amount": "abc", "transaction_password": TX_PASSWORD, "key": "p2"}, follow_redirects=True)
    assert "Enter an amount such as 100.00." in bad.get_data(as_text=True)
    too_much = client_a.post("/wallet/withdraw", data={"amount": "99999", "transaction_password": TX_PASSWORD, "key": "p3"},
                             follow_redirects=True).get_data(as_text=True)
    # what the user has, as money; never a ledger account code or a bare figure
    assert "Your available funds (CN¥250.00) do not cover this withdrawal." in too_much
    assert "Insufficient funds in" not in too_much
    assert client_a.get("/api/v1/wallet", headers=investor).json["available"] == money(25_000)  # nothing moved
    assert client_a.get("/wallet/transactions.csv").mimetype == "text/csv"


def test_a_token_of_alpha_sees_nothing_at_beta(client_a, client_b, investor):
    deposit(client_a, investor, 100, "dep-1")
    assert client_b.get("/api/v1/wallet", headers=investor).status_code == 401
    assert client_b.get("/api/v1/wallet/transactions", headers=investor).status_code == 401
    assert client_b.get("/wallet").status_code == 302


def test_the_platform_accounts_are_opened_by_command_once(lendkit, tenant_a):
    result = lendkit("custody", "open-platform", "--tenant", "alpha", "--card", bank_card("622202000000000001"))
    assert result.exit_code == 0, result.output
    assert result.output.count("confirmed") == 3
    again = lendkit("custody", "open-platform", "--tenant", "alpha", "--card", bank_card("622202000000000001"))
    assert again.exit_code == 0 and again.output == result.output
    bad = lendkit("custody", "open-platform", "--tenant", "nobody", "--card", "1")
    assert bad.exit_code == 1 and "no tenant 'nobody'" in bad.output
