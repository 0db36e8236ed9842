"""JSON responses and Google's error body, written in one place."""

from __future__ import annotations

import json

from flask import Response

from .errors import ApiError

JSON_TYPE = "application/json; charset=UTF-8"


def dumps(value, pretty: bool) -> bytes:
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(value, status: int = 200, pretty: bool = True) -> Response:
    """A JSON answer; `None` is an empty answer (204 for deletes)."""
    if value is None:
        return Response(status=status)
    return Response(dumps(value, pretty), status=status, content_type=JSON_TYPE)


def error_response(err: ApiError) -> Response:
    return json_response(err.to_dict(), status=err.status)
