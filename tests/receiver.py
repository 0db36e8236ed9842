"""A real HTTP server for push dispatch tests: records each request, answers scripted statuses."""

from __future__ import annotations

import threading
import time

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class Receiver:
    """A real HTTP server in a thread: records each request and answers the next scripted status."""

    def __init__(self, statuses=()):
        self.requests, self.statuses, self.lock = [], list(statuses), threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @Request.application
    def app(self, request):
        with self.lock:
            self.requests.append((request.method, request.path, dict(request.headers), request.get_data()))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response("ok", status=status)

    def wait_for(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests

    def stop(self):
        self.server.shutdown()
