"""Reading a request body with a cap, refusing an oversized one before it is in memory."""

from __future__ import annotations

from flask import request
from werkzeug.wsgi import get_content_length

from queueservice.errors import InvalidArgument, PayloadTooLarge


def read_body(max_bytes: int, req=None) -> bytes:
    """The body of `req` (by default Flask's request), or PayloadTooLarge: by Content-Length up
    front, or after max_bytes + 1 chunked bytes."""
    req = request if req is None else req
    length = get_content_length(req.environ)  # req.content_length, without a KeyError for a header not sent
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(f"The request body is {length} bytes; this server accepts at most {max_bytes}")
    environ = req.environ
    if length is None and not environ.get("wsgi.input_terminated"):
        return b""
    stream = environ["wsgi.input"]
    limit = max_bytes + 1 if length is None else length
    chunks, size = [], 0
    while size < limit:
        try:
            chunk = stream.read(min(65536, limit - size))
        except Exception as exc:  # the server's parser refused the body (bad chunking, cut short)
            raise InvalidArgument(f"The request body could not be read: {exc.__class__.__name__}") from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > max_bytes:
        raise PayloadTooLarge(f"The request body is over {max_bytes} bytes, the most this server accepts")
    return b"".join(chunks)
