"""/legal/terms and /legal/privacy: the tenant's own text per locale, else a clear default."""


def test_a_tenant_without_its_own_text_gets_the_default(client_a):
    terms = client_a.get("/legal/terms")
    assert terms.status_code == 200
    page = terms.get_data(as_text=True)
    assert "Terms of service" in page and "Alpha Lending Ltd." in page and "has not published its own text" in page
    assert "encrypted" in client_a.get("/legal/privacy").get_data(as_text=True)
    assert client_a.get("/legal/cookies").status_code == 404


def test_a_tenants_markdown_and_html_are_served_per_locale(client_a, app, tmp_path):
    import shutil
    from pathlib import Path

    from testbed import TEST_TENANTS

    tenants = tmp_path / "tenants"
    shutil.copytree(TEST_TENANTS, tenants)
    legal = tenants / "alpha" / "legal"
    legal.mkdir()
    (legal / "terms.en.md").write_text("# Alpha terms\n\nBe **nice**.\n\n- one\n- two\n\n<script>x</script>", encoding="utf-8")
    (legal / "privacy.zh_CN.html").write_text("<h2>隐私</h2><p>我们保护您的数据。</p>", encoding="utf-8")
    app.config["LENDKIT_TENANTS_DIR"] = str(tenants)
    page = client_a.get("/legal/terms").get_data(as_text=True)
    assert "<h2>Alpha terms</h2>" in page and "<strong>nice</strong>" in page and "<li>two</li>" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    client_a.get("/locale/zh_CN")
    assert "我们保护您的数据" in client_a.get("/legal/privacy").get_data(as_text=True)
    assert "Alpha terms" in client_a.get("/legal/terms").get_data(as_text=True)  # falls back to the default locale's file
    assert Path(app.config["LENDKIT_TENANTS_DIR"]) == tenants


def test_a_tenants_documents_are_its_own(client_a, client_b, app, tmp_path):
    import shutil

    from testbed import TEST_TENANTS

    tenants = tmp_path / "tenants2"
    shutil.copytree(TEST_TENANTS, tenants)
    (tenants / "alpha" / "legal").mkdir()
    (tenants / "alpha" / "legal" / "terms.en.md").write_text("Alpha own terms.", encoding="utf-8")
    app.config["LENDKIT_TENANTS_DIR"] = str(tenants)
    assert "Alpha own terms." in client_a.get("/legal/terms").get_data(as_text=True)
    beta = client_b.get("/legal/terms").get_data(as_text=True)
    assert "Alpha own terms." not in beta and "Beta Credit Co." in beta
