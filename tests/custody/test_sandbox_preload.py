"""SANDBOX ONLY: accounts the sandbox bank already holds (with money) before the platform's records begin."""
from __future__ import annotations

from datetime import timedelta

import pytest

from core.custody.provider import CustodyError, Instruction
from plugins.payment_custody.preload import PreloadError, preload_csv

CARD = "6217000123456780018"
HOLDER = dict(currency="CNY", holder_name="张伟", id_number="310101198506122314", card_number=CARD)


def test_a_preloaded_account_holds_its_balances_and_statements_count_them_as_opening(engine, clock):
    engine.preload_account("CB1", available=120000, frozen=3000, **HOLDER)
    assert (engine.balance("CB1").available, engine.balance("CB1").frozen) == (120000, 3000)
    today = clock().date()
    statement = engine.statement(today, "CNY")
    assert statement.lines == ()  # no movement: the money was there before
    assert (statement.closing("CB1").available, statement.closing("CB1").frozen) == (120000, 3000)
    assert engine.statement(today - timedelta(days=1), "CNY").closing("CB1") is None
    # money then moves as usual, and the next day's closing carries on from the opening balance
    assert engine.submit(Instruction("R1", "withdraw", "CB1", 20000, "CNY")).status == "confirmed"
    clock.advance(days=1)
    assert engine.statement(clock().date(), "CNY").closing("CB1").available == 100000


def test_preloading_again_is_idempotent_and_never_changes_an_account(engine):
    engine.preload_account("CB1", available=500, **HOLDER)
    assert engine.preload_account("CB1", available=500, **HOLDER).available == 500
    with pytest.raises(CustodyError) as refused:
        engine.preload_account("CB1", available=600, **HOLDER)
    assert refused.value.reason == "duplicate_account"
    opened = engine.submit(Instruction("R2", "open_account", "CB1", 0, "CNY",
                                       details={"name": "x", "id_number": "y", "card_number": CARD}))
    assert (opened.status, opened.reason) == ("refused", "duplicate_account")
    with pytest.raises(CustodyError):
        engine.preload_account("CB2", available=-1, **HOLDER)
    with pytest.raises(CustodyError):
        engine.preload_account("CB3", available=1, **{**HOLDER, "card_number": "6217000123456780017"})


def test_the_bank_server_answers_balances_of_accounts_preloaded_from_a_file(bank, tmp_path):
    source = tmp_path / "accounts.csv"
    source.write_text("account,holder_name,id_number,card_number,available,frozen\n"
                      f"CB9,张伟,310101198506122314,{CARD},7700,0\n", encoding="utf-8")
    assert preload_csv(bank.engine, source, "CNY") == 1
    assert preload_csv(bank.engine, source, "CNY") == 1  # the same file again changes nothing
    balance = bank.provider().balance("CB9")
    assert (balance.available, balance.frozen) == (7700, 0)
    source.write_text("account,holder_name\nCB8,x\n", encoding="utf-8")
    with pytest.raises(PreloadError, match="accounts.csv:1: missing column"):
        preload_csv(bank.engine, source, "CNY")
