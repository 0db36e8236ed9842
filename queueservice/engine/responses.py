"""JSON responses and Google's error body, written in one place."""

from __future__ import annotations

import orjson
from flask import Response

from queueservice.errors import ApiError

JSON_TYPE = "application/json; charset=UTF-8"


def dumps(value, pretty: bool) -> bytes:
    """UTF-8 JSON; indented when `pretty` (Google's default for prettyPrint)."""
    if pretty:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    return orjson.dumps(value)


def json_response(value, status: int = 200, pretty: bool = True) -> Response:
    """A JSON answer; `None` is an empty answer (204 for deletes)."""
    if value is None:
        return Response(status=status)
    return Response(dumps(value, pretty), status=status, content_type=JSON_TYPE)


def error_response(err: ApiError, pretty: bool = True, form: str = "v1", xgafv: str | None = None) -> Response:
    """The error in its API's body: "v1" (TaskQueue's) or "v2" (newer Google APIs, `$.xgafv` honoured)."""
    body = err.to_v2_dict(xgafv) if form == "v2" else err.to_dict()
    return json_response(body, status=err.status, pretty=pretty)
