"""gunicorn's threaded worker, answering gunicorn's own errors in Google's JSON error format.

gunicorn refuses some requests before the app sees them (a request line over 4094 bytes,
bytes that are not HTTP); those answers would otherwise be HTML.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

_REASONS = {403: "forbidden", 500: "backendError", 501: "notImplemented"}


def write_json_error(sock, status_int, reason, mesg):
    message = mesg or reason
    body = json.dumps({"error": {
        "errors": [{"domain": "global", "reason": _REASONS.get(status_int, "invalid"), "message": message}],
        "code": status_int, "message": message}}).encode("utf-8")
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json; charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorThreadWorker(ThreadWorker):
    def init_process(self):
        util.write_error = write_json_error
        super().init_process()
