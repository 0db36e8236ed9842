"""Whether the bytes received so far hold a whole HTTP/1.x request (head and body).

The worker's event loop reads every request into memory with this before a thread takes it, so a
client that sends its head or body slowly holds a socket and a buffer, never a thread. It only
frames the request; gunicorn's own parser still parses it, and refuses what is malformed.
"""

from __future__ import annotations

import re

#: A request head longer than this is refused (431) without waiting for its end; gunicorn's own
#: limits (request line 4094, 100 fields of 8190 bytes) refuse most heads well before.
MAX_HEAD_BYTES = 128 * 1024

_LENGTH = re.compile(rb"(?im)^content-length[ \t]*:[ \t]*([0-9]+)[ \t]*\r?$")
_CHUNKED = re.compile(rb"(?im)^transfer-encoding[ \t]*:.*chunked")
_EXPECT = re.compile(rb"(?im)^expect[ \t]*:[ \t]*100-continue")
_HEAD_END = re.compile(rb"\r?\n\r?\n")

MORE, READY, TOO_LARGE_HEAD = "more", "ready", "too large head"


class RequestBuffer:
    """Bytes of one request as they arrive; `state()` says whether to wait, hand over or refuse.

    `max_body` is MAX_REQUEST_BYTES: a body declared larger is handed over at once (the app
    refuses it by its Content-Length), and a chunked body is handed over once it is past that
    (the app refuses it after reading max + 1 bytes, all of them already here).
    """

    def __init__(self, max_body: int, data: bytes = b""):
        self.data = bytearray(data)
        self.max_body = max_body
        self._body_start = None
        self._length = None
        self._chunked = False
        self._chunk_pos = None
        self.expects_continue = False

    def feed(self, chunk: bytes) -> None:
        self.data += chunk

    def state(self) -> str:
        if self._body_start is None:
            start = 0
            while self.data[start:start + 2] == b"\r\n":  # empty lines before a request are allowed
                start += 2
            match = _HEAD_END.search(self.data, start)
            if not match:
                return TOO_LARGE_HEAD if len(self.data) > MAX_HEAD_BYTES else MORE
            head = bytes(self.data[start:match.start()])
            self._body_start = self._chunk_pos = match.end()
            self._chunked = bool(_CHUNKED.search(head))
            length = _LENGTH.search(head)
            self._length = int(length.group(1)) if length and not self._chunked else 0
            self.expects_continue = bool(_EXPECT.search(head)) and (self._chunked or self._length > 0)
        if self._chunked:
            return self._chunked_state()
        if self._length > self.max_body:
            return READY
        return READY if len(self.data) - self._body_start >= self._length else MORE

    def _chunked_state(self) -> str:
        """Walk the chunks received so far; READY at the last chunk's end or past max_body."""
        data, pos = self.data, self._chunk_pos
        while True:
            if pos - self._body_start > self.max_body:
                return READY
            line_end = data.find(b"\r\n", pos)
            if line_end < 0:
                return MORE if len(data) - pos < 1024 else READY  # a size line that long: let gunicorn refuse it
            size_text = bytes(data[pos:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return READY  # malformed: gunicorn's parser answers 400
            if size == 0:  # the last chunk, then trailer lines up to an empty line
                return READY if data.find(b"\r\n\r\n", line_end) >= 0 else MORE
            end = line_end + 2 + size + 2
            if len(data) < end:
                self._chunk_pos = pos
                return MORE
            pos = self._chunk_pos = end
