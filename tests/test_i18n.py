"""i18n: every string has a zh_CN translation; money and rates are formatted per locale."""
from decimal import Decimal
from pathlib import Path

from babel.messages.pofile import read_po
from flask import g
from flask_babel import force_locale

from core.i18n import money, percent

CATALOG = Path(__file__).parent.parent / "core" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
TEMPLATE = Path(__file__).parent.parent / "core" / "translations" / "messages.pot"


def test_the_zh_cn_catalog_translates_every_extracted_string():
    with TEMPLATE.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with CATALOG.open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(str(m) for m in wanted - translated)
    assert not missing, f"untranslated in zh_CN (run `make messages`): {missing[:10]}"


def test_every_translation_keeps_the_placeholders_of_its_message():
    """What `pybabel compile` (run by `make`) checks: a broken placeholder would stop the install."""
    with CATALOG.open("rb") as fh:
        catalog = read_po(fh)
    problems = [f"line {message.lineno}: {message.id!r}: {'; '.join(map(str, errors))}"
                for message, errors in catalog.check() if errors]
    assert not problems, problems


def test_the_template_is_up_to_date_with_the_code(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).parent.parent
    out = tmp_path / "fresh.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l", "-o", str(out), "."],
        cwd=root, check=True, capture_output=True,
    )
    with out.open("rb") as fresh, TEMPLATE.open("rb") as shipped:
        assert {m.id for m in read_po(fresh) if m.id} == {m.id for m in read_po(shipped) if m.id}, "run `make messages`"


def test_money_is_formatted_from_minor_units_for_the_locale(app, tenant_a):
    with app.test_request_context("/"):
        g.tenant = tenant_a
        with force_locale("zh_CN"):
            assert money(1234567) == "¥12,345.67"
        with force_locale("en"):
            assert money(1234567) == "CN¥12,345.67"
            assert money(5, "USD") == "$0.05"
            assert money(-100, "JPY") == "-¥100"
            assert percent(Decimal("0.0825")) == "8.25%"


def test_plurals_follow_the_locales_rule_for_a_tenant_without_its_own_catalog(app, tenant_a):
    """zh_CN has one plural form: a count other than 1 is translated too (not left in English)."""
    from flask_babel import ngettext

    with app.test_request_context("/"):
        g.tenant = tenant_a  # alpha has no catalog of its own
        with force_locale("zh_CN"):
            for n in (0, 1, 2):
                assert ngettext("%(num)d investor so far", "%(num)d investors so far", n) == f"已有 {n} 位出借人"
        with force_locale("en"):
            assert ngettext("%(num)d investor so far", "%(num)d investors so far", 2) == "2 investors so far"


def test_a_tenant_can_reword_any_string_with_its_own_catalog(app, client_a, tmp_path):
    import shutil

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from testbed import TEST_TENANTS

    shutil.copytree(TEST_TENANTS, tmp_path / "tenants")
    folder = tmp_path / "tenants" / "alpha" / "translations" / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    catalog = Catalog(locale="zh_CN")
    catalog.add("Notices", "平台资讯")
    with (folder / "messages.mo").open("wb") as fh:
        write_mo(fh, catalog)
    app.config["LENDKIT_TENANTS_DIR"] = str(tmp_path / "tenants")
    client_a.get("/locale/zh_CN")
    page = client_a.get("/").get_data(as_text=True)
    assert "平台资讯" in page and "通知公告" not in page
    assert "首页" in page  # everything else still comes from lendkit's catalog
