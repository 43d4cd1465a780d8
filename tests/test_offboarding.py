"""Offboarding: a tenant's data leaves in one archive, and is removed only after a matching export."""
import json
import shutil
import tarfile

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.notices.models import Notice
from core.tenancy import tenant_context
from core.tenancy.models import Tenant
from testbed import TEST_TENANTS


@pytest.fixture
def tenants_dir(app, tmp_path):
    folder = tmp_path / "tenants"
    shutil.copytree(TEST_TENANTS, folder)
    app.config["LENDKIT_TENANTS_DIR"] = str(folder)
    return folder


def add_notices(tenant, count, prefix="n"):
    with tenant_context(tenant):
        for i in range(count):
            db.session.add(Notice(key=f"{prefix}{i}", title=f"标题 {i}", body="正文"))
        db.session.commit()


def test_an_export_holds_every_row_and_file_of_the_tenant_only(lendkit, tenant_a, tenant_b, tenants_dir, tmp_path):
    add_notices(tenant_a, 3)
    add_notices(tenant_b, 2, prefix="b")
    archive = tmp_path / "alpha.tar.gz"
    result = lendkit("tenant", "export", "alpha", "--output", str(archive))
    assert result.exit_code == 0, result.output
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        notices = [json.loads(line) for line in tar.extractfile("tables/notice.jsonl").read().decode().splitlines()]
        names = tar.getnames()
    assert manifest["slug"] == "alpha" and manifest["row_counts"]["notice"] == 3
    assert {n["key"] for n in notices} == {"n0", "n1", "n2"} and notices[0]["title"] == "标题 0"
    assert "folder/tenant.yaml" in names and "folder/static/logo.svg" in names and "tenant.json" in names


def test_remove_needs_a_matching_export_and_the_slug_typed_again(lendkit, tenant_a, tenant_b, tenants_dir, tmp_path):
    add_notices(tenant_a, 2)
    add_notices(tenant_b, 1, prefix="b")
    archive = tmp_path / "alpha.tar.gz"
    lendkit("tenant", "export", "alpha", "--output", str(archive))

    wrong = lendkit("tenant", "remove", "alpha", "--export", str(archive), "--confirm", "alpah")
    assert wrong.exit_code == 1 and "does not match the tenant slug" in wrong.output

    add_notices(tenant_a, 1, prefix="late")
    stale = lendkit("tenant", "remove", "alpha", "--export", str(archive), "--confirm", "alpha")
    assert stale.exit_code == 1 and "notice: exported 2, now 3" in stale.output

    lendkit("tenant", "export", "alpha", "--output", str(archive))
    done = lendkit("tenant", "remove", "alpha", "--export", str(archive), "--confirm", "alpha")
    assert done.exit_code == 0, done.output
    assert Tenant.by_slug("alpha") is None and not (tenants_dir / "alpha").exists()
    remaining = db.session.scalars(select(Notice).execution_options(all_tenants=True)).all()
    assert [n.key for n in remaining] == ["b0"]  # beta untouched
    assert Tenant.by_slug("beta") is not None


def test_an_export_of_another_tenant_or_a_damaged_archive_is_refused(lendkit, tenant_a, tenant_b, tenants_dir, tmp_path):
    beta_archive = tmp_path / "beta.tar.gz"
    lendkit("tenant", "export", "beta", "--output", str(beta_archive))
    result = lendkit("tenant", "remove", "alpha", "--export", str(beta_archive), "--confirm", "alpha")
    assert result.exit_code == 1 and "is an export of 'beta'" in result.output
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    result = lendkit("tenant", "remove", "alpha", "--export", str(junk), "--confirm", "alpha")
    assert result.exit_code == 1 and "not a readable lendkit export" in result.output
    assert Tenant.by_slug("alpha") is not None
