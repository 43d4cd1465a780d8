"""``/api/v1/custody/callback``: the custody bank's asynchronous result notices.

No login and no CSRF token: the bank proves itself by signing the notice,
which the tenant's provider verifies (``handle_callback``). The tenant is the
one whose host the notice was sent to, so a notice can only ever touch that
tenant's instructions. Applying a notice is idempotent: duplicates and late
copies change nothing.
"""
from __future__ import annotations

import logging

from flask import g, request
from flask_babel import lazy_gettext as _l
from flask_smorest import abort
from marshmallow import Schema, fields

from core.api import Blueprint
from core.custody.instructions import apply_callback, provider_for
from core.custody.provider import BadSignature, CustodyError

log = logging.getLogger("lendkit.custody")

blp = Blueprint("custody", __name__, description="Custody bank notices")


class CallbackAnswerSchema(Schema):
    """What the platform answers a notice it applied."""

    request_no = fields.String(metadata={"description": "The instruction's request number."})
    state = fields.String(metadata={"description": "The instruction's state after the notice."})


@blp.route("/callback", methods=["POST"])
@blp.response(200, CallbackAnswerSchema)
@blp.alt_response(401, description="The notice's signature does not verify.")
@blp.alt_response(404, description="No instruction with that request number at this tenant.")
def callback():
    """Apply a signed result notice from the custody bank"""
    tenant = g.tenant
    body = request.get_data(cache=True)
    try:
        result = provider_for(tenant).handle_callback(dict(request.headers), body)
    except BadSignature as exc:
        log.warning("custody callback for tenant %s rejected: %s (from %s)", tenant.slug, exc.reason,
                    request.remote_addr)
        abort(401, message=str(_l("The notice's signature does not verify.")))
    except CustodyError as exc:
        log.warning("custody callback for tenant %s refused: %s", tenant.slug, exc.reason)
        abort(400, message=str(_l("The notice could not be read.")))
    instruction = apply_callback(result)
    if instruction is None:
        log.warning("custody callback for tenant %s names unknown request %s", tenant.slug, result.request_no)
        abort(404, message=str(_l("No instruction %(request_no)s.", request_no=result.request_no)))
    return {"request_no": instruction.request_no, "state": instruction.state}
