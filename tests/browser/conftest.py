"""Browser tests: a live lendkit server with the demo tenants, driven by real Chromium.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make test``),
driven by Playwright. Without it these tests skip with one line of reason;
under ``CI=true`` they fail instead, so CI never passes without them.
Screenshots go to ``test-artifacts/screenshots/``.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LENDKIT_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (make test installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e .[dev])"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing_browser()
    if reason is None or os.environ.get("CI") == "true":  # in CI, _browser_required fails each test instead
        return
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def _browser_required():
    """Under ``CI=true`` a missing browser fails every browser test (an xfail or a skip would pass the run)."""
    reason = _missing_browser()
    if reason is not None and os.environ.get("CI") == "true":
        pytest.fail(f"CI=true needs the browser: {reason}", pytrace=False)


class LiveServer:
    def __init__(self, app, port):
        self.app = app
        self.port = port

    def url(self, slug: str, path: str = "/") -> str:
        return f"http://{slug}.localhost:{self.port}{path}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """lendkit serving the demo tenants from ``tenants/`` on a free port."""
    from alembic import command

    from core.app import create_app
    from core.cli import alembic_config
    from core.extensions import db

    workdir = tmp_path_factory.mktemp("live")
    previous = os.getcwd()
    os.chdir(workdir)  # providers' relative files (sandbox bank, SMS outbox) land here
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'live.db'}",
            "LENDKIT_ENV": "testing",
            "LENDKIT_INSTANCE_PATH": str(workdir / "instance"),
            "SECRET_KEY": "browser-tests-secret-key-0123456789abcdef",
        }
    )
    with app.app_context():
        command.upgrade(alembic_config(), "heads")
    runner = app.test_cli_runner()
    from core.cli import cli

    for args in (["tenant", "sync"], ["tenant", "seed"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, server.server_port)
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()
        os.chdir(previous)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at a desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    """A fresh browser context the size of a phone."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, "name")`` saves test-artifacts/screenshots/name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
