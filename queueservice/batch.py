"""Batch requests: `multipart/mixed` bodies as `googleapiclient`'s BatchHttpRequest sends them.

Each part is an HTTP request; it is run through this same WSGI app, so it gets the same
routing, checks and errors as a direct call, and its answer goes back in a matching part.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from flask import Response, current_app, request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from .errors import InvalidArgument
from .request_body import read_body

MAX_PARTS = 1000
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_REQUEST_LINE = re.compile(r"^([A-Z]+) (\S+)(?: HTTP/\d(?:\.\d)?)?$")


def _split_head(block: str):
    """Split header lines from the body at the first blank line (CRLF or LF)."""
    match = re.search(r"\r?\n\r?\n", block)
    if not match:
        return block, ""
    return block[: match.start()], block[match.end():]


def _headers(text: str) -> list:
    out = []
    for line in re.split(r"\r?\n", text):
        if not line.strip():
            continue
        if line[0] in " \t" and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise InvalidArgument(f"Batch part has a malformed header line: {line[:60]!r}")
        out.append((name.strip(), value.strip()))
    return out


def parse(body: str, content_type: str) -> list:
    """[(content_id, method, path, query, headers, body)] for each part of a batch body."""
    if not content_type.lower().startswith("multipart/mixed"):
        raise InvalidArgument("A batch request must be multipart/mixed")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise InvalidArgument("The multipart/mixed content type has no boundary")
    delimiter = "--" + match.group(1)
    chunks = body.split(delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break
        chunk = chunk.lstrip("\r\n").rstrip("\r\n")
        if not chunk:
            continue
        head, inner = _split_head(chunk)
        part_headers = {k.lower(): v for k, v in _headers(head)}
        inner = inner.lstrip("\r\n")
        request_head, request_body = _split_head(inner)
        lines = re.split(r"\r?\n", request_head, maxsplit=1)
        line = _REQUEST_LINE.match(lines[0].strip())
        if not line:
            raise InvalidArgument(f"Batch part has no HTTP request line: {lines[0][:60]!r}")
        url = urlsplit(line.group(2))
        headers = _headers(lines[1]) if len(lines) > 1 else []
        parts.append((part_headers.get("content-id"), line.group(1), url.path or "/", url.query,
                      headers, request_body))
        if len(parts) > MAX_PARTS:
            raise InvalidArgument(f"A batch holds at most {MAX_PARTS} requests")
    if not parts:
        raise InvalidArgument("The batch request holds no parts")
    return parts


def _response_id(content_id) -> str | None:
    if not content_id:
        return None
    inner = content_id.strip()
    if inner.startswith("<") and inner.endswith(">"):
        inner = inner[1:-1]
    return f"<response-{inner}>"


def view(**_ignored):
    """Run each part through the app and answer a multipart/mixed body in the same order."""
    data = read_body(current_app.extensions["queueservice"].settings.max_request_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("The batch body is not UTF-8") from None
    parts = parse(text, request.headers.get("Content-Type", ""))
    boundary = "batch_" + uuid.uuid4().hex
    out = []
    app = current_app._get_current_object()
    for content_id, method, path, query, headers, body in parts:
        if path.rstrip("/").startswith("/batch"):
            status, resp_headers, payload = _nested_refused()
        else:
            builder = EnvironBuilder(path=path, query_string=query, method=method,
                                     headers=[(k, v) for k, v in headers
                                              if k.lower() not in ("content-length", "transfer-encoding")],
                                     data=body.encode("utf-8"), base_url=request.host_url)
            try:
                environ = builder.get_environ()
            finally:
                builder.close()
            app_iter, status, resp_headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
            payload = b"".join(app_iter)
        lines = [f"--{boundary}", "Content-Type: application/http"]
        response_id = _response_id(content_id)
        if response_id:
            lines.append(f"Content-ID: {response_id}")
        lines += ["", f"HTTP/1.1 {status}"]
        for name, value in resp_headers:
            if name.lower() in ("content-type", "etag", "location"):
                lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(payload)}")
        lines += ["", payload.decode("utf-8")]
        out.append("\r\n".join(lines))
    out.append(f"--{boundary}--\r\n")
    return Response("\r\n".join(out), content_type=f"multipart/mixed; boundary={boundary}")


def _nested_refused():
    from .responses import dumps

    err = InvalidArgument("A batch may not contain another batch")
    return "400 Bad Request", [("Content-Type", "application/json; charset=UTF-8")], dumps(err.to_dict(), True)
