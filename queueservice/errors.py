"""The errors every layer raises. Each class carries a canonical code (NOT_FOUND, ALREADY_EXISTS,
...), from which its HTTP status, its v1 `reason` and its gRPC status follow; a class may pin a
different HTTP status where Google's service answered one (413, 405).

They are rendered in one place per API (`queueservice.engine.responses`): the v1 body
`{"error": {"errors": [...], "code", "message"}}` or the v2 body `{"error": {"code", "message",
"status", "details"}}`. Storage raises subclasses of these for its own domain errors.
"""

from __future__ import annotations

from enum import Enum


class Code(Enum):
    """google.rpc.Code: (gRPC number, HTTP status, the v1 body's reason)."""

    CANCELLED = (1, 499, "cancelled")
    UNKNOWN = (2, 500, "backendError")
    INVALID_ARGUMENT = (3, 400, "invalid")
    DEADLINE_EXCEEDED = (4, 504, "deadlineExceeded")
    NOT_FOUND = (5, 404, "notFound")
    ALREADY_EXISTS = (6, 409, "conflict")
    PERMISSION_DENIED = (7, 403, "forbidden")
    RESOURCE_EXHAUSTED = (8, 429, "rateLimitExceeded")
    FAILED_PRECONDITION = (9, 400, "failedPrecondition")
    ABORTED = (10, 409, "aborted")
    OUT_OF_RANGE = (11, 400, "outOfRange")
    UNIMPLEMENTED = (12, 501, "notImplemented")
    INTERNAL = (13, 500, "backendError")
    UNAVAILABLE = (14, 503, "backendError")
    DATA_LOSS = (15, 500, "backendError")
    UNAUTHENTICATED = (16, 401, "unauthorized")

    @property
    def grpc(self) -> int:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def reason(self) -> str:
        return self.value[2]


class ApiError(Exception):
    """An error answered to the client; `code` decides its status and reason unless a class pins them."""

    code = Code.INTERNAL
    status = 500
    reason = "backendError"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "status" not in cls.__dict__:
            cls.status = cls.code.http_status
        if "reason" not in cls.__dict__:
            cls.reason = cls.code.reason

    def __init__(self, message: str, *, reason: str | None = None, location: str | None = None,
                 location_type: str | None = None, details: list | None = None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.location = location
        self.location_type = location_type
        self.details = details or []

    def to_dict(self) -> dict:
        """The v1 body (TaskQueue's, and every error outside an API)."""
        return {"error": {"errors": [self.v1_detail()], "code": self.status, "message": self.message}}

    def v1_detail(self) -> dict:
        detail = {"domain": "global", "reason": self.reason, "message": self.message}
        if self.location:
            detail["locationType"] = self.location_type or "parameter"
            detail["location"] = self.location
        return detail

    def to_v2_dict(self, xgafv: str | None = None) -> dict:
        """The v2 body of newer Google APIs; `$.xgafv=1` adds the v1 `errors` array, as Google does."""
        out = {"code": self.status, "message": self.message, "status": self.code.name, "details": self.details}
        if xgafv == "1":
            out["errors"] = [self.v1_detail()]
        return {"error": out}


class InvalidArgument(ApiError):
    code = Code.INVALID_ARGUMENT


class RequiredArgument(InvalidArgument):
    reason = "required"


class ParseError(InvalidArgument):
    reason = "parseError"


class Forbidden(ApiError):
    code = Code.PERMISSION_DENIED


class NotFound(ApiError):
    code = Code.NOT_FOUND


class MethodNotAllowed(ApiError):
    code = Code.UNIMPLEMENTED
    status = 405
    reason = "httpMethodNotAllowed"


class Conflict(ApiError):
    code = Code.ALREADY_EXISTS


class FailedPrecondition(ApiError):
    code = Code.FAILED_PRECONDITION


class PayloadTooLarge(ApiError):
    code = Code.INVALID_ARGUMENT
    status = 413
    reason = "payloadTooLarge"


class ResourceExhausted(ApiError):
    code = Code.RESOURCE_EXHAUSTED


class DeadlineExceeded(ApiError):
    code = Code.DEADLINE_EXCEEDED


class Unavailable(ApiError):
    code = Code.UNAVAILABLE


class InternalError(ApiError):
    code = Code.INTERNAL


class StartupError(Exception):
    """A setting or file that cannot work: start-up stops with this one line, no traceback."""
