"""The JSON API under ``/api/v1``: one ``Api``, one error body, one ``Blueprint`` base.

Every 4xx and 5xx answer on the API has the same body::

    {"code": 404, "status": "Not Found", "message": "No notice 7.", "errors": {...}}

``errors`` appears on validation failures and maps each field to its
problems. Outside ``/api/`` the same errors render as themed pages.
The OpenAPI 3 document is served at ``/api/v1/openapi.json``.
"""
from __future__ import annotations

import flask_smorest
from flask import render_template, request
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/v1"


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


class Api(flask_smorest.Api):
    """flask-smorest's Api, with HTML error pages outside the API."""

    def handle_http_exception(self, error: HTTPException):
        if wants_json():
            payload, code, headers = super().handle_http_exception(error)
            payload.setdefault("message", error.description)
            return payload, code, headers
        # werkzeug's own description is English boilerplate: the page says it in the reader's language instead
        detail = error.description if error.description != type(error).description else None
        return render_template("error.html", error=error, detail=detail), error.code


class Blueprint(flask_smorest.Blueprint):
    """An API resource's blueprint: mounted under ``/api/v1/<name>``."""

    def __init__(self, name, import_name, *, url_prefix=None, **kwargs):
        super().__init__(name, import_name, url_prefix=url_prefix or f"{API_PREFIX}/{name}", **kwargs)


api = Api()
