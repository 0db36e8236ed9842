"""The errors every layer raises; each knows its HTTP status and Google error reason.

They are rendered into Google's JSON error format in one place (`queueservice.web`).
"""

from __future__ import annotations


class ApiError(Exception):
    """An error answered to the client as `{"error": {...}}` with `status`."""

    status = 500
    reason = "backendError"

    def __init__(self, message: str, *, reason: str | None = None, location: str | None = None,
                 location_type: str | None = None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.location = location
        self.location_type = location_type

    def to_dict(self) -> dict:
        detail = {"domain": "global", "reason": self.reason, "message": self.message}
        if self.location:
            detail["locationType"] = self.location_type or "parameter"
            detail["location"] = self.location
        return {"error": {"errors": [detail], "code": self.status, "message": self.message}}


class InvalidArgument(ApiError):
    status = 400
    reason = "invalid"


class RequiredArgument(InvalidArgument):
    reason = "required"


class ParseError(InvalidArgument):
    reason = "parseError"


class Forbidden(ApiError):
    status = 403
    reason = "forbidden"


class NotFound(ApiError):
    status = 404
    reason = "notFound"


class MethodNotAllowed(ApiError):
    status = 405
    reason = "httpMethodNotAllowed"


class Conflict(ApiError):
    status = 409
    reason = "conflict"


class FailedPrecondition(ApiError):
    status = 400
    reason = "failedPrecondition"


class PayloadTooLarge(ApiError):
    status = 413
    reason = "payloadTooLarge"


class Unavailable(ApiError):
    status = 503
    reason = "backendError"


class InternalError(ApiError):
    status = 500
    reason = "backendError"


class StartupError(Exception):
    """A setting or file that cannot work: start-up stops with this one line, no traceback."""
