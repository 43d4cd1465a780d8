"""SMS providers for one-time codes and notices, and the money-movement notices.

``console`` (development): every message is appended as one JSON line to an
outbox file, where the demo and the tests read it.

``http``: a client for an SMS gateway's REST API with HMAC-signed requests
(:mod:`plugins.sms_otp.http`); :mod:`plugins.sms_otp.gateway` is a reference
gateway to test against.

``money_moved``: every posted journal entry sends each user it moved money
for a text in their locale (:mod:`plugins.sms_otp.notices`).
"""
from core import hookimpl
from plugins.sms_otp.console import ConsoleSms


@hookimpl
def register_sms_providers():
    from plugins.sms_otp.http import HttpSms

    return {"console": ConsoleSms, "http": HttpSms}


@hookimpl
def money_moved(tenant, entry):
    from plugins.sms_otp.notices import notify_money_moved

    notify_money_moved(tenant, entry)
