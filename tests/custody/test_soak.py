"""Soak: 300 random operations through the http provider with every fault switched on.

Afterwards every outcome the client did not learn is resolved by query, and then
* the client's final status of every request equals the bank's,
* the bank's balances equal the sum of the confirmed movements,
* no request moved money more than once.
"""
import random
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from core.custody.provider import BankTimeout, BankUnavailable, StatementLine, TransferItem
from plugins.payment_custody.bank_server import FaultConfig

ACCOUNTS = ("inv1", "inv2", "inv3", "bor1", "bor2")
FAULTS = FaultConfig(error_rate=0.08, error_mode="both", latency_ms=400, latency_rate=0.04,
                     drop_callbacks=0.2, duplicate_callbacks=0.2, delay_callbacks=30,
                     reorder_callbacks=True, seed=20250301)


class ClientView:
    """What the platform believes about each request: pending/confirmed/refused or unknown."""

    def __init__(self):
        self.status: dict[str, str] = {}
        self.conflicts: list[tuple] = []
        self.lock = threading.Lock()

    def record(self, request_no, status):
        with self.lock:
            current = self.status.get(request_no)
            if current in ("confirmed", "refused"):
                if status in ("confirmed", "refused") and status != current:
                    self.conflicts.append((request_no, current, status))
                return  # a final outcome is never downgraded to pending/unknown
            self.status[request_no] = status

    def unresolved(self):
        with self.lock:
            return [no for no, s in self.status.items() if s not in ("confirmed", "refused")]


def random_instruction(rng, ins):
    kind = rng.choices(["deposit", "withdraw", "freeze", "unfreeze", "transfer", "frozen_transfer", "batch"],
                       weights=[20, 10, 15, 10, 20, 10, 10])[0]
    account = rng.choice(ACCOUNTS)
    amount = rng.randint(1, 5_000)
    if kind in ("transfer", "frozen_transfer"):
        target = rng.choice([a for a in ACCOUNTS if a != account])
        return ins.transfer(account, target, amount, from_frozen=kind == "frozen_transfer")
    if kind == "batch":
        legs = []
        for _ in range(rng.randint(1, 3)):
            source, target = rng.sample(ACCOUNTS, 2)
            legs.append(TransferItem(source, target, rng.randint(1, 3_000), rng.random() < 0.5))
        return ins.batch(*legs)
    return {"deposit": ins.deposit, "withdraw": ins.withdraw, "freeze": ins.freeze,
            "unfreeze": ins.unfreeze}[kind](account, amount)


@pytest.mark.slow
def test_300_operations_with_every_fault_on_stay_consistent(start_bank, ins):
    started = time.monotonic()
    harness = start_bank(settle_delay_ms=5, callback_backoff=0.05)
    provider = harness.provider(read_timeout=0.25, connect_timeout=1.0, retries=1, retry_backoff=0.02)
    view = ClientView()
    harness.receiver.on_result = lambda result: view.record(result.request_no, result.status)
    for name in ACCOUNTS:  # the accounts are opened before the storm
        assert provider.submit(ins.open(name)).status == "confirmed"
    harness.bank.set_faults(FAULTS)

    rng = random.Random(7)
    sent = {}
    errors = Counter()
    for _ in range(300):
        if sent and rng.random() < 0.07:
            instruction = sent[rng.choice(list(sent))]  # the platform retries an earlier request as is
        else:
            instruction = random_instruction(rng, ins)
            sent[instruction.request_no] = instruction
        try:
            result = provider.submit(instruction)
        except (BankTimeout, BankUnavailable) as exc:
            errors[type(exc).__name__] += 1
            view.record(instruction.request_no, "unknown")
        else:
            view.record(instruction.request_no, result.status)

    harness.bank.wait_idle(timeout=20)
    for request_no in view.unresolved():  # resolve by QUERY, never by a new instruction
        for _attempt in range(30):
            try:
                result = provider.query(request_no)
            except (BankTimeout, BankUnavailable):
                continue
            view.record(request_no, result.status)
            break

    stats = harness.bank.stats
    assert errors and stats["errors_after"] and stats["errors_before"] and stats["delayed"]
    assert stats["callbacks_dropped"] and stats["callbacks_duplicated"]
    assert view.conflicts == []
    assert view.unresolved() == []
    for request_no in sent:
        assert view.status[request_no] == harness.engine.query(request_no).status, request_no

    confirmed = [sent[no] for no in sent if view.status[no] == "confirmed"]
    expected = {name: [0, 0] for name in ACCOUNTS}
    expected_lines = Counter()
    for instruction in confirmed:
        now = datetime.now(timezone.utc)
        if instruction.kind == "batch_transfer":
            lines = [StatementLine(instruction.request_no, "batch_transfer", leg.source, leg.target, leg.amount,
                                   "CNY", leg.from_frozen, now) for leg in instruction.items]
        else:
            lines = [StatementLine(instruction.request_no, instruction.kind, instruction.account,
                                   instruction.counterparty, instruction.amount, "CNY", instruction.from_frozen, now)]
        expected_lines[instruction.request_no] = len(lines)
        for line in lines:
            for account, d_available, d_frozen in line.effects():
                expected[account][0] += d_available
                expected[account][1] += d_frozen
    actual = {b.account: [b.available, b.frozen] for b in harness.engine.balances()}
    assert actual == expected
    assert all(v >= 0 for pair in actual.values() for v in pair)

    today = datetime.now(timezone.utc).date()
    lines = [ln for day in (today - timedelta(days=1), today)
             for ln in harness.engine.statement(day, "CNY").lines]
    assert Counter(ln.request_no for ln in lines) == expected_lines  # each confirmed request moved money once
    assert len(confirmed) > 50
    assert time.monotonic() - started < 60
