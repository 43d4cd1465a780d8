"""Plugins: bundled providers register through entry points; every hook is documented."""
import inspect
import re
from importlib.metadata import entry_points
from pathlib import Path

from core import hookimpl, hookspecs
from core.plugins import get_plugin_manager, provider_registry

DOC = Path(__file__).parent.parent / "docs" / "plugin_hooks.md"


def hook_names():
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "lendkit_spec")]


def test_the_bundled_plugins_register_under_the_lendkit_entry_point_group():
    names = {ep.name: ep.value for ep in entry_points(group="lendkit")}
    assert names == {
        "payment_custody": "plugins.payment_custody",
        "sms_otp": "plugins.sms_otp",
        "credit_bureau": "plugins.credit_bureau",
    }
    pm = get_plugin_manager()
    for name in names:
        assert pm.get_plugin(name) is not None


def test_each_family_offers_its_development_provider_with_a_settings_schema():
    registry = provider_registry()
    for family, name in [("custody", "sandbox"), ("sms", "console"), ("credit_bureau", "sandbox")]:
        provider = registry[family][name]
        assert provider.name == name
        assert provider.settings_schema().validate({}) == {}


def test_every_hook_is_documented_with_its_exact_signature():
    doc = DOC.read_text(encoding="utf-8")
    for name in hook_names():
        spec = getattr(hookspecs, name)
        signature = f"{name}{inspect.signature(spec)}"
        assert f"## {name}" in doc, f"docs/plugin_hooks.md has no section for {name}"
        assert signature in doc, f"docs/plugin_hooks.md must show `{signature}`"


def test_every_documented_hook_exists():
    doc = DOC.read_text(encoding="utf-8")
    assert set(re.findall(r"^## ([a-z_]+)$", doc, re.M)) == set(hook_names())


def test_a_plugin_can_add_template_context_and_a_command(client_a, lendkit):
    import click

    class Example:
        @hookimpl
        def template_context(self, tenant):  # fewer arguments than the spec is allowed
            return {"example_banner": f"hello {tenant.slug}"}

        @hookimpl
        def register_commands(self, cli):
            @cli.command("example-hello")
            def hello():
                click.echo("hello from a plugin")

    pm = get_plugin_manager()
    pm.register(Example(), name="example")
    try:
        from flask import render_template_string

        with client_a.application.test_request_context("/", headers={"Host": "alpha.test"}):
            from core.tenancy.resolve import bind_request_tenant

            bind_request_tenant()
            assert render_template_string("{{ example_banner }}") == "hello alpha"
        from core.cli import LendkitGroup, cli

        cli._plugin_commands_loaded = False
        assert lendkit("example-hello").output == "hello from a plugin\n"
    finally:
        pm.unregister(name="example")
        cli.commands.pop("example-hello", None)


def test_tenant_synced_fires_for_new_and_changed_tenants(make_app):
    events = []

    class Listener:
        @hookimpl
        def tenant_synced(self, tenant, created):
            events.append((tenant.slug, created))

    pm = get_plugin_manager()
    pm.register(Listener(), name="listener")
    try:
        app = make_app()
        with app.app_context():
            from core.tenancy.sync import sync_tenants

            sync_tenants()
            sync_tenants()
    finally:
        pm.unregister(name="listener")
    assert events == [("alpha", True), ("beta", True)]
