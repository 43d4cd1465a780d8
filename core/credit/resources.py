"""``/api/v1/calculator``: the public loan calculator (no sign-in).

Bad input gets the API's one error body, 422 with each field's problems::

    {"code": 422, "status": "Unprocessable Entity", "message": "…",
     "errors": {"months": ["must be between 1 and 360"]}}
"""
from datetime import date

from flask import g, request
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import abort
from marshmallow import ValidationError

from core.api import API_PREFIX, Blueprint
from core.credit.calculator import CalculatorQuerySchema, calculate, public, representative_rate, schedule_json
from core.credit.schemas import ScheduleSchema
from core.credit.settings import credit_settings

blp = Blueprint("credit", __name__, url_prefix=API_PREFIX, description="Credit: the loan calculator")


def tenant_today() -> date:
    """Today in the tenant's time zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(g.tenant.config.get("timezone", "UTC"))).date()


def _query_parameters() -> list[dict]:
    """The calculator's query arguments for the OpenAPI document (validation is by the schema)."""
    types = {"principal": "integer", "months": "integer", "start": "string"}
    return [
        {
            "in": "query",
            "name": name,
            "required": field.required,
            "schema": {"type": types.get(name, "string"), **({"format": "date"} if name == "start" else {})},
            "description": field.metadata.get("description", ""),
        }
        for name, field in CalculatorQuerySchema().fields.items()
    ]


@blp.route("/calculator")
class Calculator(MethodView):
    @public
    @blp.doc(parameters=_query_parameters())
    @blp.response(200, ScheduleSchema)
    @blp.alt_response(422, description="A field is missing or out of range; `errors` names each one")
    def get(self):
        """Repayment schedule and total cost of a loan"""
        try:
            args = CalculatorQuerySchema().load(request.args.to_dict())
        except ValidationError as err:
            abort(422, message=str(_l("The calculator cannot use these values.")), errors=err.messages)
        rate = args["annual_rate"]
        if rate is None:
            rate = representative_rate(credit_settings(g.tenant))
        start = args["start"] or tenant_today()
        schedule = calculate(args["principal"], rate, args["months"], args["method"], start)
        return schedule_json(schedule, g.tenant.currency, start)
