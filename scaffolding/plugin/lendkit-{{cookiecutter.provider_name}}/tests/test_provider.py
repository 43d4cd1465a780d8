{%- set info = cookiecutter._family_info[cookiecutter.family] -%}
"""The plugin registers its provider and validates a tenant's settings."""
import pytest
from marshmallow import ValidationError

import {{ cookiecutter.package }}
from {{ cookiecutter.package }}.provider import Provider

GOOD = {"base_url": "https://gateway.example/api", "api_key": "0123456789"}


def test_the_hook_registers_the_provider_under_its_name():
    assert {{ cookiecutter.package }}.{{ info.hook }}() == {"{{ cookiecutter.provider_name }}": Provider}


def test_good_settings_load_with_defaults():
    provider = Provider(GOOD, tenant_slug="demo")
    assert provider.settings["timeout"] == 10.0


@pytest.mark.parametrize("bad, field", [({"api_key": "0123456789"}, "base_url"), ({**GOOD, "base_url": "http://plain.example"}, "base_url"), ({**GOOD, "api_key": "short"}, "api_key")])
def test_bad_settings_name_the_field(bad, field):
    assert field in Provider.settings_schema().validate(bad)
    with pytest.raises(ValidationError):
        Provider(bad, tenant_slug="demo")
