"""The ``sandbox`` provider: the bank engine in-process, one SQLite file per tenant, immediate results."""
from datetime import date

import marshmallow
import pytest

from core.custody.provider import CustodyError
from plugins.payment_custody.sandbox import SandboxCustody


def test_default_database_is_a_per_tenant_file_under_instance(tmp_path, monkeypatch, ins):
    monkeypatch.chdir(tmp_path)
    acme = SandboxCustody({}, tenant_slug="acme")
    other = SandboxCustody({"database_url": None}, tenant_slug="other")
    try:
        acme.submit(ins.open("alice"))
        assert (tmp_path / "instance" / "sandbox-bank-acme.db").exists()
        assert other.query(ins.open("x", request_no="REQ-000001").request_no).reason == "unknown_request"
    finally:
        acme.close()
        other.close()


def test_database_url_setting_may_name_the_tenant(tmp_path, ins):
    url = f"sqlite:///{tmp_path}/banks/{{tenant_slug}}.db"
    provider = SandboxCustody({"database_url": url}, tenant_slug="acme")
    try:
        provider.check()
        assert (tmp_path / "banks" / "acme.db").exists()
    finally:
        provider.close()


def test_results_are_immediate(tmp_path, ins):
    provider = SandboxCustody({"database_url": f"sqlite:///{tmp_path}/b.db"}, tenant_slug="t")
    try:
        assert provider.submit(ins.open("alice")).status == "confirmed"
        deposit = ins.deposit("alice", 700)
        assert provider.submit(deposit).status == "confirmed"  # no pending phase in the sandbox
        assert provider.query(deposit.request_no).status == "confirmed"
        assert provider.submit(ins.withdraw("alice", 701)).reason == "insufficient_funds"
        assert provider.balance("alice").available == 700
        statement = provider.statement(date.today(), "CNY")
        assert [ln.request_no for ln in statement.lines] == [deposit.request_no]
        with pytest.raises(CustodyError):
            provider.balance("ghost")
        with pytest.raises(CustodyError) as err:
            provider.handle_callback({}, b"{}")
        assert err.value.reason == "callbacks_not_used"
    finally:
        provider.close()


def test_settings_are_validated():
    with pytest.raises(marshmallow.ValidationError) as err:
        SandboxCustody({"database_url": 5}, tenant_slug="t")
    assert "database_url" in err.value.messages
    with pytest.raises(marshmallow.ValidationError) as err:
        SandboxCustody({"colour": "red"}, tenant_slug="t")
    assert "colour" in err.value.messages


def test_an_unusable_database_location_fails_early(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        SandboxCustody({"database_url": f"sqlite:///{tmp_path}/file/bank.db"}, tenant_slug="t")
