"""Any exception of a call as the ApiError it is answered with: the one mapping every transport uses.

HTTP-only failures (werkzeug's 404 and 405) are mapped by the HTTP layer before this.
"""

from __future__ import annotations

import logging

from queueservice.redis_helpers import connection as redis_conn
from queueservice.errors import ApiError, InternalError, Unavailable

log = logging.getLogger("queueservice")


def api_error_of(exc: BaseException, where: str = "") -> ApiError:
    """The error to answer; a store that is down or full is UNAVAILABLE, anything unknown INTERNAL."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, redis_conn.UNAVAILABLE_ERRORS):
        log.warning("store unavailable: %s", exc)
        return Unavailable("The task store is unavailable; try again shortly")
    if isinstance(exc, redis_conn.OUT_OF_MEMORY):
        log.warning("store out of memory: %s", exc)
        return Unavailable(redis_conn.OUT_OF_MEMORY_MESSAGE)
    log.error("unexpected error%s", f" on {where}" if where else "", exc_info=exc)
    return InternalError("Internal error; the server log has the details")


def status_of(exc: BaseException) -> int:
    """The HTTP status an exception will be answered with (for logs and metrics), without logging."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, redis_conn.UNAVAILABLE_ERRORS + (redis_conn.OUT_OF_MEMORY,)):
        return 503
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else 500
