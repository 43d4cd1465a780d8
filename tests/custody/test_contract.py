"""The custody provider contract: value types, validation, exceptions and plugin registration."""
from dataclasses import FrozenInstanceError
from datetime import datetime, timezone

import marshmallow
import pytest

from core.custody.provider import (
    INSTRUCTION_KINDS,
    BadSignature,
    Balance,
    BankResult,
    BankTimeout,
    BankUnavailable,
    CustodyError,
    CustodyProvider,
    Instruction,
    StatementLine,
    TransferItem,
)

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)


def test_the_seven_instruction_kinds():
    assert INSTRUCTION_KINDS == ("open_account", "deposit", "withdraw", "freeze", "unfreeze",
                                 "transfer", "batch_transfer")


def test_instructions_are_frozen_and_round_trip_through_dicts(ins):
    batch = ins.batch(("a", "b", 300, True), ("a", "c", 200, False))
    for instruction in (ins.open("a"), ins.deposit("a", 100), ins.transfer("a", "b", 5, from_frozen=True), batch):
        assert Instruction.from_dict(instruction.to_dict()) == instruction
        with pytest.raises(FrozenInstanceError):
            instruction.amount = 1
    assert batch.amount == 500


def test_fingerprint_changes_with_the_body_only(ins):
    a = ins.deposit("a", 100, request_no="R1")
    assert a.fingerprint() == ins.deposit("a", 100, request_no="R1").fingerprint()
    assert a.fingerprint() != ins.deposit("a", 101, request_no="R1").fingerprint()


@pytest.mark.parametrize("kwargs", [
    dict(kind="deposit", account="a", amount=1.5),            # float money
    dict(kind="deposit", account="a", amount=True),           # bool is not an amount
    dict(kind="deposit", account="a", amount=0),              # nothing to move
    dict(kind="withdraw", account="a", amount=-5),
    dict(kind="deposit", account=None, amount=5),
    dict(kind="explode", account="a", amount=5),
    dict(kind="transfer", account="a", amount=5),             # no counterparty
    dict(kind="transfer", account="a", amount=5, counterparty="a"),
    dict(kind="freeze", account="a", amount=5, from_frozen=True),
    dict(kind="open_account", account="a", amount=0, details={"name": "x"}),
    dict(kind="batch_transfer", account=None, amount=5),      # no items
    dict(kind="batch_transfer", account=None, amount=6, items=(TransferItem("a", "b", 5),)),
])
def test_malformed_instructions_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        Instruction(request_no="R1", currency="CNY", **kwargs)


def test_transfer_item_rules():
    with pytest.raises(ValueError):
        TransferItem("a", "a", 5)
    with pytest.raises(ValueError):
        TransferItem("a", "b", 0)


def test_bank_result_statuses():
    assert BankResult("R1", "pending").final is False
    assert BankResult("R1", "refused", None, "insufficient_funds").final is True
    with pytest.raises(ValueError):
        BankResult("R1", "lost")


def test_balance_total():
    assert Balance("a", 70, 30).total == 100


@pytest.mark.parametrize("kind,from_frozen,effects", [
    ("deposit", False, (("a", 10, 0),)),
    ("withdraw", False, (("a", -10, 0),)),
    ("freeze", False, (("a", -10, 10),)),
    ("unfreeze", False, (("a", 10, -10),)),
    ("transfer", False, (("a", -10, 0), ("b", 10, 0))),
    ("transfer", True, (("a", 0, -10), ("b", 10, 0))),
    ("batch_transfer", True, (("a", 0, -10), ("b", 10, 0))),
])
def test_statement_line_effects(kind, from_frozen, effects):
    counterparty = "b" if "transfer" in kind else None
    line = StatementLine("R1", kind, "a", counterparty, 10, "CNY", from_frozen, NOW)
    assert line.effects() == effects


def test_exception_hierarchy_and_refusals_are_results():
    for exc in (BankTimeout, BankUnavailable, BadSignature):
        assert issubclass(exc, CustodyError)
    assert BankTimeout("read_timeout").reason == "read_timeout"
    # a refusal is a normal outcome, not an exception
    assert BankResult("R1", "refused", None, "insufficient_funds").reason == "insufficient_funds"


def test_base_provider_validates_settings_with_its_schema():
    class Schema(marshmallow.Schema):
        url = marshmallow.fields.String(required=True)

    class Provider(CustodyProvider):
        name, title, settings_schema = "x", "X", Schema

    assert Provider({"url": "u"}, tenant_slug="t").settings == {"url": "u"}
    with pytest.raises(marshmallow.ValidationError) as err:
        Provider({}, tenant_slug="t")
    assert "url" in err.value.messages
    with pytest.raises(NotImplementedError):
        Provider({"url": "u"}, tenant_slug="t").submit(None)


def test_plugin_registers_both_providers():
    from plugins.payment_custody import register_custody_banks

    banks = register_custody_banks()
    assert set(banks) == {"sandbox", "http"}
    for name, cls in banks.items():
        assert issubclass(cls, CustodyProvider)
        assert cls.name == name and cls.title
        assert issubclass(cls.settings_schema, marshmallow.Schema)
