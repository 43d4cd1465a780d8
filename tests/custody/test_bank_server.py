"""The sandbox bank server: fault configuration, restarts, keys and the command line."""
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from plugins.payment_custody import signing
from plugins.payment_custody.bank_server import (
    FaultConfig,
    SandboxBank,
    prepare_keys,
    sandbox_bank_command,
)
from plugins.payment_custody.engine import BankEngine
from plugins.payment_custody.http_provider import HttpCustody

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kwargs", [dict(error_rate=1.5), dict(drop_callbacks=-0.1), dict(error_mode="sometimes"),
                                    dict(latency_ms=-1)])
def test_fault_config_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        FaultConfig(**kwargs)


def test_seeded_faults_are_reproducible(tmp_path):
    private, public = signing.generate_keypair()
    draws = []
    for n in range(2):
        engine = BankEngine(f"sqlite:///{tmp_path}/b{n}.db")
        bank = SandboxBank(engine, private, public, FaultConfig(error_rate=0.5, seed=42))
        draws.append([bank.chance(0.5) for _ in range(20)])
        bank.stop()
        engine.close()
    assert draws[0] == draws[1]


def test_a_restarted_bank_settles_what_was_pending(tmp_path, ins):
    url = f"sqlite:///{tmp_path}/bank.db"
    engine = BankEngine(url)
    engine.submit(ins.open("alice"))
    engine.submit(ins.deposit("alice", 900), defer=True)  # accepted, then the bank went down
    engine.close()
    private, public = signing.generate_keypair()
    engine = BankEngine(url)
    bank = SandboxBank(engine, private, public, settle_delay_ms=1)
    try:
        assert bank.wait_idle(timeout=5)
        assert engine.balance("alice").available == 900
    finally:
        bank.stop()
        engine.close()


def test_keys_are_generated_on_first_run_and_reused(tmp_path):
    key_dir = str(tmp_path / "keys")
    bank_pem, platform_pem, messages = prepare_keys(key_dir)
    assert any("bank public key" in m for m in messages)
    assert sorted(os.listdir(key_dir)) == ["bank_private.pem", "bank_public.pem",
                                          "platform_private.pem", "platform_public.pem"]
    assert prepare_keys(key_dir)[:2] == (bank_pem, platform_pem)
    assert oct(os.stat(os.path.join(key_dir, "bank_private.pem")).st_mode & 0o777) == "0o600"


def test_without_a_platform_key_every_request_is_refused(tmp_path):
    bank_pem, platform_pem, messages = prepare_keys(str(tmp_path), generate_platform_key=False)
    assert platform_pem is None and any("refused" in m for m in messages)


def test_the_command_is_a_click_command_with_the_fault_options():
    assert isinstance(sandbox_bank_command, click.Command)
    result = CliRunner().invoke(sandbox_bank_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--port", "--database-url", "--key-dir", "--error-rate", "--latency", "--drop-callbacks",
                   "--duplicate-callbacks", "--delay-callbacks", "--reorder-callbacks", "--seed"):
        assert option in result.output


def test_python_dash_m_runs_a_working_bank(tmp_path, ins):
    key_dir = tmp_path / "keys"
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugins.payment_custody.bank_server", "--port", "0",
         "--database-url", f"sqlite:///{tmp_path / 'bank.db'}", "--key-dir", str(key_dir)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    watchdog = threading.Timer(30, proc.kill)  # never hang the suite on a server that does not start
    watchdog.start()
    try:
        port = None
        for line in proc.stdout:
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        assert port, "the bank server did not start"
        provider = HttpCustody({
            "base_url": f"http://127.0.0.1:{port}", "merchant_id": "demo",
            "private_key_path": str(key_dir / "platform_private.pem"),
            "bank_public_key_path": str(key_dir / "bank_public.pem"),
        }, tenant_slug="demo")
        provider.check()
        assert provider.submit(ins.open("alice")).status == "confirmed"
        provider.close()
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
