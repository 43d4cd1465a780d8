{%- set info = cookiecutter._family_info[cookiecutter.family] -%}
"""The {{ cookiecutter.provider_name }} provider. Implement each method the base class documents."""
from marshmallow import Schema, fields, validate

from {{ info.base_module }} import {{ info.base }}


class Settings(Schema):
    """What a tenant writes under providers.{{ cookiecutter.family }}.settings."""

    base_url = fields.Url(required=True, schemes={"https"})
    api_key = fields.Str(required=True, validate=validate.Length(min=8))
    timeout = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=120))


class Provider({{ info.base }}):
    name = "{{ cookiecutter.provider_name }}"
    title = {{ cookiecutter.title|jsonify }}
    settings_schema = Settings
{% if cookiecutter.family == "sms" %}
    def send(self, mobile, text):
        """Send ``text`` to ``mobile``; return core.sms.SmsReceipt or raise core.sms.SmsError."""
        raise NotImplementedError("call the gateway at self.settings['base_url']")
{% elif cookiecutter.family == "credit_bureau" %}
    def verify_identity(self, name, id_number):
        """Return core.credit.IdentityCheck, or raise core.credit.BureauUnavailable."""
        raise NotImplementedError("call the bureau at self.settings['base_url']")
{% else %}
    def submit(self, instruction):
        """Send one instruction; return core.custody.provider.BankResult (see the contract)."""
        raise NotImplementedError("call the bank at self.settings['base_url']")

    def query(self, request_no):
        """Ask the bank about an earlier instruction by its request number."""
        raise NotImplementedError("call the bank at self.settings['base_url']")
{% endif %}
