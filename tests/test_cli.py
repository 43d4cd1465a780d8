"""The lendkit command: tenant sync and list, plugins, and one-line failures."""
import subprocess
import sys

from core.tenancy.models import Tenant


def test_tenant_sync_is_idempotent_and_reports_changes(lendkit):
    result = lendkit("tenant", "sync")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["alpha: unchanged", "beta: unchanged"]


def test_tenant_list_shows_hosts_locale_and_stage(lendkit):
    result = lendkit("tenant", "list", "--json")
    assert result.exit_code == 0
    assert '"slug": "alpha"' in result.output and "alpha.test" in result.output
    assert '"stage": "requirements"' in result.output


def test_sync_of_a_changed_file_updates_the_tenant(lendkit, app, tmp_path):
    import shutil

    from testbed import TEST_TENANTS

    shutil.copytree(TEST_TENANTS, tmp_path / "tenants")
    path = tmp_path / "tenants" / "alpha" / "tenant.yaml"
    path.write_text(path.read_text().replace("Alpha Lending", "Alpha Lending Two"))
    app.config["LENDKIT_TENANTS_DIR"] = str(tmp_path / "tenants")
    result = lendkit("tenant", "sync")
    assert result.output.splitlines() == ["alpha: updated", "beta: unchanged"]
    assert Tenant.by_slug("alpha").name == "Alpha Lending Two"


def run_cli(*args, env=None):
    import os

    environment = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, env=environment, timeout=60
    )


def test_an_invalid_tenant_file_exits_non_zero_with_one_line(tmp_path):
    import shutil

    from testbed import TEST_TENANTS

    shutil.copytree(TEST_TENANTS, tmp_path / "tenants")
    path = tmp_path / "tenants" / "beta" / "tenant.yaml"
    path.write_text(path.read_text().replace('"#aa0000"', '"crimson"'))
    result = run_cli(
        "tenant", "sync",
        env={"LENDKIT_TENANTS_DIR": str(tmp_path / "tenants"), "LENDKIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "beta/tenant.yaml" in lines[0] and "branding.primary_color" in lines[0] and "colour" in lines[0]


def test_bad_arguments_exit_2_with_one_line():
    result = run_cli("tenant", "frobnicate")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "frobnicate" in result.stderr


def test_plugins_lists_each_bundled_plugin_and_its_providers():
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    import json

    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["payment_custody"]["providers"]["custody"] == ["http", "sandbox"]
    assert rows["sms_otp"]["providers"]["sms"] == ["console", "http"]
    assert rows["credit_bureau"]["providers"]["credit_bureau"] == ["http", "sandbox"]
    assert rows["sms_otp"]["distribution"].startswith("lendkit ")
