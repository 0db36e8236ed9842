"""Batch requests: `multipart/mixed` bodies as `googleapiclient`'s BatchHttpRequest sends them.

Each part is an HTTP request; it is run through this same WSGI app, so it gets the same
routing, checks and errors as a direct call, and its answer goes back in a matching part.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote, urlsplit

from flask import Response, current_app, request
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.test import EnvironBuilder, run_wsgi_app

from queueservice.errors import InvalidArgument, PayloadTooLarge
from queueservice.engine.request_body import read_body

MAX_PARTS = 1000
#: Set in the environ of each part, so a batch reached from inside a batch refuses itself.
IN_BATCH = "queueservice.in_batch"
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
    """Run each part through the app and answer a multipart/mixed body in the same order.

    The answers stop at MAX_BATCH_RESPONSE_BYTES: once they reach it, the parts left are not run
    and each answers 413, so one small batch cannot make the worker hold gigabytes. A batch inside
    a batch is refused, however its path is spelled (`/%62atch`).
    """
    if request.environ.get(IN_BATCH):
        raise InvalidArgument("A batch may not contain another batch")
    settings = current_app.extensions["queueservice"].settings
    data = read_body(settings.max_request_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("The batch body is not UTF-8") from None
    del data
    parts = parse(text, request.headers.get("Content-Type", ""))
    del text
    boundary = "batch_" + uuid.uuid4().hex
    out, size, budget = [], 0, settings.max_batch_response_bytes
    app = current_app._get_current_object()
    routes = app.url_map.bind(request.host)
    for content_id, method, path, query, headers, body in parts:
        if size >= budget:
            status, resp_headers, payload = _refused(PayloadTooLarge(
                f"This part was not run: the batch's answers reached MAX_BATCH_RESPONSE_BYTES ({budget} bytes); "
                "send fewer requests per batch"))
        elif _is_batch(routes, method, path):
            status, resp_headers, payload = _refused(InvalidArgument("A batch may not contain another batch"))
        else:
            status, resp_headers, payload = _run(app, method, path, query, headers, body)
        head = [f"--{boundary}", "Content-Type: application/http"]
        response_id = _response_id(content_id)
        if response_id:
            head.append(f"Content-ID: {response_id}")
        head += ["", f"HTTP/1.1 {status}"]
        for name, value in resp_headers:
            if name.lower() in ("content-type", "etag", "location"):
                head.append(f"{name}: {value}")
        head += [f"Content-Length: {len(payload)}", "", ""]
        chunk = "\r\n".join(head).encode("utf-8") + payload + b"\r\n"
        size += len(chunk)
        out.append(chunk)
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return Response(b"".join(out), content_type=f"multipart/mixed; boundary={boundary}")


def _is_batch(routes, method: str, path: str) -> bool:
    """Whether the part's path routes to a batch endpoint, decoded exactly as routing decodes it."""
    try:
        endpoint, _ = routes.match(unquote(path), method=method)
    except Exception:  # noqa: BLE001 - no route (404/405): the part runs and gets that error
        return False
    return str(endpoint).startswith("batch:")


def _run(app, method, path, query, headers, body):
    builder = EnvironBuilder(path=path, query_string=query, method=method,
                             headers=[(k, v) for k, v in headers
                                      if k.lower() not in ("content-length", "transfer-encoding")],
                             data=body.encode("utf-8"), base_url=request.host_url,
                             environ_overrides={IN_BATCH: True})
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    app_iter, status, resp_headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    return status, resp_headers, b"".join(app_iter)


def _refused(err):
    from queueservice.engine.responses import dumps

    return (f"{err.status} {HTTP_STATUS_CODES.get(err.status, '')}".strip(),
            [("Content-Type", "application/json; charset=UTF-8")], dumps(err.to_dict(), True))
