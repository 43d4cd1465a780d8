"""Settings of the ``http`` provider: invalid values are marshmallow ValidationErrors naming the field."""
import marshmallow
import pytest

from plugins.payment_custody import signing
from plugins.payment_custody.http_provider import HttpCustody, HttpSettingsSchema

PRIVATE, _ = signing.generate_keypair()
_, BANK_PUBLIC = signing.generate_keypair()


def valid(**overrides):
    settings = {"base_url": "http://127.0.0.1:8750", "merchant_id": "m1",
                "private_key_pem": PRIVATE.decode(), "bank_public_key_pem": BANK_PUBLIC.decode()}
    settings.update(overrides)
    return {k: v for k, v in settings.items() if v is not ...}


def errors(settings):
    with pytest.raises(marshmallow.ValidationError) as err:
        HttpCustody(settings, tenant_slug="t")
    return err.value.messages


def test_defaults():
    loaded = HttpSettingsSchema().load(valid())
    assert (loaded["connect_timeout"], loaded["read_timeout"], loaded["retries"]) == (3.0, 10.0, 2)
    assert loaded["notify_url"] is None


def test_keys_may_come_from_files(tmp_path):
    private_path, _ = signing.write_keypair(str(tmp_path), "platform")
    bank_path = tmp_path / "bank_public.pem"
    bank_path.write_bytes(BANK_PUBLIC)
    provider = HttpCustody(valid(private_key_pem=..., bank_public_key_pem=..., private_key_path=private_path,
                                 bank_public_key_path=str(bank_path)), tenant_slug="t")
    provider.close()


@pytest.mark.parametrize("overrides,field", [
    (dict(base_url="not a url"), "base_url"),
    (dict(base_url="ftp://127.0.0.1/"), "base_url"),
    (dict(base_url=...), "base_url"),
    (dict(merchant_id=""), "merchant_id"),
    (dict(notify_url="nope"), "notify_url"),
    (dict(connect_timeout=0), "connect_timeout"),
    (dict(read_timeout="slow"), "read_timeout"),
    (dict(retries=-1), "retries"),
    (dict(retries=1.5), "retries"),
    (dict(private_key_pem="-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n"), "private_key_pem"),
    (dict(private_key_pem=BANK_PUBLIC.decode()), "private_key_pem"),
    (dict(private_key_pem=...), "private_key_pem"),
    (dict(private_key_path="missing.pem"), "private_key_pem"),  # both given
    (dict(bank_public_key_pem=..., bank_public_key_path="no/such/file.pem"), "bank_public_key_path"),
    (dict(bank_public_key_pem=PRIVATE.decode()), "bank_public_key_pem"),
    (dict(surprise=1), "surprise"),
])
def test_invalid_settings_name_the_field(overrides, field):
    assert field in errors(valid(**overrides))
