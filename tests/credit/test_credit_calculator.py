"""The loan calculator: page, API and CLI agree with core.lending.schedule, and say clearly what is wrong."""
import json
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from flask import g
from flask_babel import force_locale
from hypothesis import HealthCheck, given, settings, strategies as st

from core.i18n import money
from core.lending.schedule import METHODS, build_schedule

ROOT = Path(__file__).parent.parent.parent


def expected_json(principal, rate, months, method, start, currency="CNY"):
    """What the API must answer: build_schedule's figures, amounts as {"amount", "currency"}."""
    plan = build_schedule(principal, Decimal(rate), months, method, start).to_dict()
    m = lambda amount: {"amount": amount, "currency": currency}  # noqa: E731
    return {
        "principal": m(plan["principal"]), "annual_rate": plan["annual_rate"], "months": months, "method": method,
        "start": start.isoformat(), "total_interest": m(plan["total_interest"]), "total_payment": m(plan["total_payment"]),
        "installments": [
            {"number": i["number"], "due_date": i["due_date"], "principal": m(i["principal"]), "interest": m(i["interest"]),
             "payment": m(i["payment"]), "remaining": m(i["remaining"])}
            for i in plan["installments"]
        ],
    }


# --- API ----------------------------------------------------------------------------------


def test_the_api_answers_the_schedule_of_core_lending(client_a):
    response = client_a.get("/api/v1/calculator?principal=1000000&annual_rate=0.12&months=12"
                            "&method=equal_principal&start=2026-01-31")
    assert response.status_code == 200
    assert response.json == expected_json(1_000_000, "0.12", 12, "equal_principal", date(2026, 1, 31))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(principal=st.integers(1, 10**10), rate=st.decimals(0, Decimal("0.36"), places=4), months=st.integers(1, 60),
       method=st.sampled_from(METHODS), start=st.dates(date(2020, 1, 1), date(2035, 12, 31)))
def test_the_api_agrees_with_core_lending_for_any_valid_input(client_a, principal, rate, months, method, start):
    response = client_a.get("/api/v1/calculator", query_string={
        "principal": principal, "annual_rate": str(rate), "months": months, "method": method, "start": start.isoformat()})
    assert response.json == expected_json(principal, str(rate), months, method, start)


def test_the_api_defaults_to_the_tenants_representative_rate_equal_installments_and_today(client_a):
    body = client_a.get("/api/v1/calculator?principal=500000&months=6").json
    assert body["annual_rate"] == "0.12" and body["method"] == "equal_installment"
    assert body["start"] == date.today().isoformat() or abs((date.fromisoformat(body["start"]) - date.today()).days) <= 1


def test_bad_input_gets_422_with_each_fields_problem(client_a):
    response = client_a.get("/api/v1/calculator?principal=-5&annual_rate=1.2&months=400&method=weekly&start=2026-02-30")
    assert response.status_code == 422
    body = response.json
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == 422
    assert body["errors"] == {
        "principal": ["must be between 1 and 1000000000000 minor units"],
        "annual_rate": ["must be at least 0 and below 1 (0.12 is 12% a year)"],
        "months": ["must be between 1 and 360"],
        "method": ["must be one of: equal_installment, equal_principal, interest_first, bullet"],
        "start": ["Not a valid date."],
    }


@pytest.mark.parametrize("query, field", [
    ("months=12", "principal"),
    ("principal=100", "months"),
    ("principal=1.5&months=12", "principal"),
    ("principal=100&months=12&annual_rate=abc", "annual_rate"),
    ("principal=100&months=12&term=12", "term"),
])
def test_missing_malformed_and_unknown_arguments_are_named(client_a, query, field):
    response = client_a.get(f"/api/v1/calculator?{query}")
    assert response.status_code == 422 and field in response.json["errors"]


def test_each_tenant_gets_its_own_currency_and_an_unknown_host_gets_404(app, client_a, client_b):
    query = "/api/v1/calculator?principal=100000&annual_rate=0.1&months=3&start=2026-03-01"
    assert client_a.get(query).json["total_payment"]["currency"] == "CNY"
    assert client_b.get(query).json == expected_json(100_000, "0.1", 3, "equal_installment", date(2026, 3, 1), "USD")
    stranger = app.test_client().get(query, headers={"Host": "nobody.example"})
    assert stranger.status_code == 404 and stranger.json["code"] == 404


def test_the_openapi_document_describes_the_calculator(client_a):
    doc = client_a.get("/api/v1/openapi.json").json
    operation = doc["paths"]["/api/v1/calculator"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"principal", "annual_rate", "months", "method", "start"}
    assert "422" in operation["responses"]


# --- page ---------------------------------------------------------------------------------


def page(client, query=""):
    response = client.get("/calculator" + query)
    return response, response.get_data(as_text=True)


def formatted(app, tenant, amount, locale):
    with app.test_request_context("/"):
        g.tenant = tenant
        with force_locale(locale):
            return money(amount)


def test_the_page_needs_no_sign_in_and_is_in_the_navigation(client_a):
    response, html = page(client_a)
    assert response.status_code == 200
    assert '<a href="/calculator" aria-current="page">' in html
    assert 'name="amount"' in html and 'name="months"' in html and 'name="method"' in html and 'name="rate"' in html
    assert 'value="12"' in html  # the representative rate, in percent
    assert "schedule-table" not in html.split("<main", 1)[1].split("</style>")[-1]


def test_the_page_shows_every_installment_and_the_total_cost(app, client_a, tenant_a):
    response, html = page(client_a, "?amount=10000&months=3&method=equal_installment&rate=12")
    assert response.status_code == 200
    plan = build_schedule(1_000_000, Decimal("0.12"), 3, "equal_installment", date.today())
    rows = re.findall(r"<tr>\s*<td data-label=\"No.\">(\d+)</td>", html)
    assert rows == ["1", "2", "3"]
    assert formatted(app, tenant_a, plan.total_interest, "en") in html  # CN¥200.67
    assert formatted(app, tenant_a, plan.total_payment, "en") in html
    for installment in plan.installments:
        assert formatted(app, tenant_a, installment.payment, "en") in html
        assert formatted(app, tenant_a, installment.remaining, "en") in html


def test_the_page_accepts_thousands_separators_and_cents(app, client_a, tenant_a):
    _, html = page(client_a, "?amount=12%2C345.67&months=1&method=bullet&rate=0")
    assert formatted(app, tenant_a, 1_234_567, "en") in html


def test_the_page_is_rendered_in_chinese_with_chinese_money(app, client_a, tenant_a):
    client_a.get("/locale/zh_CN")
    _, html = page(client_a, "?amount=10000&months=3&method=equal_principal&rate=12")
    assert '<html lang="zh-CN">' in html
    plan = build_schedule(1_000_000, Decimal("0.12"), 3, "equal_principal", date.today())
    assert formatted(app, tenant_a, plan.total_payment, "zh_CN") in html  # ¥10,200.00


def test_the_page_is_built_for_phones(client_a):
    _, html = page(client_a, "?amount=10000&months=2&method=bullet&rate=10")
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert 'inputmode="decimal"' in html and 'inputmode="numeric"' in html
    assert "@media (max-width: 720px)" in html and 'data-label="Payment"' in html


@pytest.mark.parametrize("query, message", [
    ("?amount=abc&months=12&method=bullet&rate=10", "Enter the amount as a number, for example 50000."),
    ("?amount=0&months=12&method=bullet&rate=10", "The amount must be more than zero."),
    ("?amount=1.234&months=12&method=bullet&rate=10", "Use at most 2 decimal places."),
    ("?amount=100&months=0&method=bullet&rate=10", "The term must be between 1 and 360 months."),
    ("?amount=100&months=&method=bullet&rate=10", "Enter the term in months."),
    ("?amount=100&months=12&method=bullet&rate=150", "The rate must be at least 0 and below 100%."),
    ("?amount=100&months=12&method=weekly&rate=10", "Not a valid choice"),
])
def test_bad_input_is_explained_on_the_page(client_a, query, message):
    response, html = page(client_a, query)
    assert response.status_code == 200
    assert message in html and 'class="field-error"' in html
    assert "Please correct the highlighted fields." in html and "<tbody>" not in html


def test_each_tenant_sees_its_own_currency_theme_and_locale(client_a, client_b):
    _, alpha = page(client_a, "?amount=100&months=1&method=bullet&rate=0")
    _, beta = page(client_b, "?amount=100&months=1&method=bullet&rate=0")
    assert "CN¥100.00" in alpha and "In CNY" in alpha
    assert "US$100.00" in beta and '<html lang="zh-CN">' in beta and "harbor" in beta
    assert "Alpha Lending" in alpha and "Alpha Lending" not in beta


def test_an_unknown_host_gets_no_calculator(app):
    assert app.test_client().get("/calculator", headers={"Host": "nobody.example"}).status_code == 404


# --- CLI ----------------------------------------------------------------------------------


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "core.cli", "schedule", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_the_cli_prints_the_same_json_as_the_api(client_a):
    args = ["--principal", "1000000", "--annual-rate", "0.12", "--months", "12", "--method", "interest_first",
            "--start", "2026-01-31"]
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    api = client_a.get("/api/v1/calculator?principal=1000000&annual_rate=0.12&months=12&method=interest_first"
                       "&start=2026-01-31").json
    assert json.loads(result.stdout) == api == expected_json(1_000_000, "0.12", 12, "interest_first", date(2026, 1, 31))


def test_the_cli_prints_a_table_and_the_totals(lendkit):
    result = lendkit("schedule", "--principal", "1000000", "--annual-rate", "0.12", "--months", "3",
                     "--start", "2026-01-31")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "10,000.00 CNY at 0.12 a year over 3 months, equal_installment, from 2026-01-31"
    assert lines[2].split() == ["1", "2026-02-28", "3,400.22", "3,300.22", "100.00", "6,699.78"]
    assert lines[-1] == "total interest 200.67 CNY; total to repay 10,200.67 CNY"


def test_bad_input_through_the_console_script_is_one_line_on_stderr_and_exit_2():
    result = run_cli("--principal", "0", "--annual-rate", "0.1", "--months", "12")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == ["lendkit: --principal: must be between 1 and 1000000000000 minor units "
                                                  "(lendkit schedule)"]


@pytest.mark.parametrize("args, words", [
    (["--principal", "0", "--annual-rate", "0.1", "--months", "12"], "--principal: must be between 1"),
    (["--principal", "abc", "--annual-rate", "0.1", "--months", "12"], "--principal: Not a valid integer"),
    (["--principal", "100", "--annual-rate", "12", "--months", "12"], "--annual-rate: must be at least 0 and below 1"),
    (["--principal", "100", "--annual-rate", "0.1", "--months", "0"], "--months: must be between 1 and 360"),
    (["--principal", "100", "--annual-rate", "0.1", "--months", "12", "--method", "weekly"], "--method: must be one of"),
    (["--principal", "100", "--annual-rate", "0.1", "--months", "12", "--start", "2026-13-01"], "--start: Not a valid date"),
    (["--principal", "100", "--annual-rate", "0.1", "--months", "12", "--currency", "XYZ"], "--currency: unknown currency"),
    (["--annual-rate", "0.1", "--months", "12"], "Missing option '--principal'"),
])
def test_bad_cli_input_is_one_line_and_exit_2(capsys, args, words):
    from core.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["schedule", *args])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lendkit: ") and words in lines[0], err
