"""gunicorn's threaded worker, made safe against slow clients, answering its own errors as JSON.

gunicorn's gthread worker gives a connection a thread as soon as it is accepted; the thread then
waits (up to 5 s for a first byte, without limit for the rest) while a slow client trickles its
request. 16 such clients stall 2 workers × 8 threads. This worker reads each request, head and
body, in its event loop first (see request_buffer.py) and hands it to a thread only once it is
whole, so slow or idle connections hold a socket and a buffer, not a thread. A request not
received within REQUEST_READ_TIMEOUT_SECS is answered 408 and closed.

gunicorn refuses some requests before the app sees them (a request line over 4094 bytes,
bytes that are not HTTP); those answers are written in Google's JSON error format too.
"""

from __future__ import annotations

import json
import selectors
import time
from functools import partial

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from queueservice.config import Settings
from queueservice.request_buffer import MAX_HEAD_BYTES, READY, TOO_LARGE_HEAD, RequestBuffer

_REASONS = {403: "forbidden", 408: "requestTimeout", 413: "payloadTooLarge", 431: "invalid",
            500: "backendError", 501: "notImplemented"}


def json_error_bytes(status_int, reason, mesg) -> bytes:
    message = mesg or reason
    body = json.dumps({"error": {
        "errors": [{"domain": "global", "reason": _REASONS.get(status_int, "invalid"), "message": message}],
        "code": status_int, "message": message}}).encode("utf-8")
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json; charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def write_json_error(sock, status_int, reason, mesg):
    util.write_nonblock(sock, json_error_bytes(status_int, reason, mesg))


class JsonErrorThreadWorker(ThreadWorker):
    def init_process(self):
        util.write_error = write_json_error
        settings = Settings.from_env()
        self.read_timeout = settings.request_read_timeout_secs
        self.max_body = settings.max_request_bytes
        self.buffering = {}  # conn -> deadline (monotonic)
        super().init_process()

    def enqueue_req(self, conn):
        """Hand a whole request to a thread; otherwise read it in the event loop first."""
        if getattr(conn, "qs_whole", False) or self.cfg.is_ssl:
            conn.qs_whole = False
            super().enqueue_req(conn)
            return
        leftover = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        conn.qs_buffer = RequestBuffer(self.max_body, leftover)
        conn.sock.setblocking(False)
        # Most requests are already here (a kept-alive socket is readable): read before polling.
        if self._advance(conn) or self._read(conn):
            return
        self.buffering[conn] = time.monotonic() + self.read_timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, _sock):
        if self._read(conn):
            self.buffering.pop(conn, None)
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass

    def _read(self, conn) -> bool:
        """Read what has arrived; True when the connection left the buffering stage."""
        try:
            chunk = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            chunk = b""
        if not chunk:  # the client went away before its request was whole
            self._drop(conn)
            return True
        conn.qs_buffer.feed(chunk)
        return self._advance(conn)

    def _advance(self, conn) -> bool:
        """True when the connection left the buffering stage (handed to a thread, or refused)."""
        buffer = conn.qs_buffer
        state = buffer.state()
        if state == TOO_LARGE_HEAD:
            self._refuse(conn, 431, "Request Header Fields Too Large",
                         f"The request head is over {MAX_HEAD_BYTES} bytes")
            return True
        if state != READY:
            if buffer.expects_continue and not getattr(conn, "qs_continued", False):
                conn.qs_continued = True  # the client waits for this before it sends the body
                util.write_nonblock(conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
            return False
        conn.qs_buffer = None
        if conn.parser is None:
            conn.init()
        conn.parser.unreader.unread(bytes(buffer.data))
        conn.data_ready = True
        conn.qs_whole = True
        self.enqueue_req(conn)
        return True

    def _refuse(self, conn, status, reason, message):
        try:
            util.write_nonblock(conn.sock, json_error_bytes(status, reason, message))
        except OSError:
            pass
        self._drop(conn)

    def _drop(self, conn):
        self.buffering.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        """Also answer 408 to requests not received whole within REQUEST_READ_TIMEOUT_SECS."""
        super().murder_pending()
        now = time.monotonic()
        for conn, deadline in list(self.buffering.items()):
            if not self.alive and not conn.qs_buffer.data:  # stopping: idle connections go at once
                self._drop(conn)
            elif deadline <= now:
                self._refuse(conn, 408, "Request Timeout",
                             f"The request was not received within {self.read_timeout:g} s "
                             "(REQUEST_READ_TIMEOUT_SECS)")

