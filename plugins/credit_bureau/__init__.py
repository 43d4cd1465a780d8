"""Credit-bureau providers.

``sandbox``: deterministic answers derived from the identity number, so the
demo and the tests can reach every outcome without a real bureau.
``http``: a client for a bureau REST API with HMAC-signed requests and
answers; ``bureau_server.py`` is a sandbox bureau speaking that protocol.
See README.md.
"""
from core import hookimpl
from plugins.credit_bureau.sandbox import SandboxBureau


@hookimpl
def register_credit_bureaus():
    from plugins.credit_bureau.http_provider import HttpBureau

    return {"sandbox": SandboxBureau, "http": HttpBureau}
