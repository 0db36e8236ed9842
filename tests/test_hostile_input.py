"""Hostile input: no 5xx, no dropped connection, no key outside its queue's namespace.

Property-based over every route and parameter of the document (in-process, on fakeredis and
a real redis-server), then raw HTTP against gunicorn for what only a socket can send.
"""

from __future__ import annotations

import json
import re
import socket
from urllib.parse import quote, urlencode

import fakeredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queueservice.engine.app import create_app
from queueservice.config import Settings
from queueservice.engine.discovery import load_document

from harness.servers import REPO

DOC = load_document(REPO / "queueservice" / "apis" / "taskqueue_v1beta2.api")
NAMESPACE = re.compile(
    rb"^qs:queues$|^qs:version$|^qs:\{[A-Za-z0-9][A-Za-z0-9.:_-]{0,99}/[a-zA-Z0-9-]{1,100}\}:"
    rb"(stats|history|tombstones|v2:(tasks|payloads|notag|tagged|enq|dead|leased|tag:.+))$", re.S)

nasty_text = st.one_of(
    st.sampled_from(["q", "a{b}", "a:b", "a/b", "%00", "\x00", "..", "lease", "x" * 501, "q" * 101,
                     "s~app", "b~", "~", "{", "}", "*", "-", "_", "é", "\ud800", "qs:queues", "a b",
                     "1e9", "-1", "2147483648", "true", "", "9" * 30]),
    st.text(max_size=40),
    st.text(alphabet="abc-_~{}:/%", max_size=20),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | nasty_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(nasty_text, children, max_size=4),
    max_leaves=12)
task_bodies = st.fixed_dictionaries({}, optional={
    "id": nasty_text, "queueName": nasty_text, "tag": nasty_text, "leaseTimestamp": json_values,
    "payloadBase64": st.one_of(nasty_text, st.just("aGVsbG8="), st.binary(max_size=30).map(lambda b: b.hex())),
    "enqueueTimestamp": json_values, "retry_count": json_values, "kind": json_values})
bodies = st.one_of(task_bodies.map(lambda d: json.dumps(d).encode()), json_values.map(lambda v: json.dumps(v).encode()),
                   st.binary(max_size=64))
query_values = st.one_of(nasty_text, st.integers(-(2**40), 2**40).map(str), st.sampled_from(["true", "false"]))


def _path(method, values):
    path = "/" + DOC.service_path + method.path
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe="", errors="surrogatepass"))
    return path


@st.composite
def calls(draw):
    method = draw(st.sampled_from(DOC.methods))
    values = {n: draw(nasty_text) or "x" for n, p in method.parameters.items() if p.location == "path"}
    query = {}
    for name, param in method.parameters.items():
        if param.location == "query" and draw(st.booleans()):
            query[name] = draw(query_values)
    for name in ("fields", "prettyPrint", "alt", draw(nasty_text)):
        if draw(st.integers(0, 3)) == 0:
            query[name] = draw(query_values)
    verb = method.http_method if draw(st.integers(0, 9)) else draw(st.sampled_from(["GET", "PUT", "POST", "DELETE"]))
    return verb, _path(method, values), query, draw(bodies), draw(st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", None]))


def _all_keys(client):
    return client.keys("*")


@pytest.fixture(params=["fakeredis", "redis"])
def hostile_app(request):
    if request.param == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_server").url.replace("/0", "/2"))
        client.flushdb()
    else:
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    app = create_app(Settings(redis_url="redis://unused", log_level="CRITICAL"), redis_client=client)
    return app, client


def test_no_input_breaks_the_api_or_escapes_its_namespace(hostile_app):
    app, client = hostile_app
    web = app.test_client()
    # Seed a known task so that get/update/delete also meet existing state.
    web.post("/taskqueue/v1beta2/projects/app/taskqueues/q/tasks", json={"id": "x", "payloadBase64": "aGk="})

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(calls())
    def check(call):
        verb, path, query, body, content_type = call
        headers = {"Content-Type": content_type} if content_type else {}
        r = web.open(path, method=verb, query_string=urlencode(query, errors="surrogatepass"), data=body,
                     headers=headers)
        assert r.status_code < 500, (call, r.get_data(as_text=True))
        if r.status_code >= 400:
            error = json.loads(r.get_data())["error"]
            assert error["code"] == r.status_code and error["errors"][0]["reason"]

    check()
    stray = [k for k in _all_keys(client) if not NAMESPACE.match(k)]
    assert stray == []


def _raw(url_port, request: bytes, read_timeout=10) -> bytes:
    with socket.create_connection(("127.0.0.1", url_port), timeout=read_timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
    return b"".join(chunks)


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    return bool(match) and len(body) >= int(match.group(1))


def _status(response: bytes) -> int:
    assert response, "connection dropped without an answer"
    return int(response.split(b" ", 2)[1])


RAW_CASES = {
    "nul in path": b"GET /taskqueue/v1beta2/projects/app/taskqueues/q/tasks/a%00b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "braces in queue": b"GET /taskqueue/v1beta2/projects/app/taskqueues/%7Bq%7D/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "invalid utf-8 in path": b"GET /taskqueue/v1beta2/projects/app/taskqueues/q/tasks/\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "invalid utf-8 in body": (b"POST /taskqueue/v1beta2/projects/app/taskqueues/q/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Content-Type: application/json\r\nContent-Length: 4\r\n\r\n\xff\xfe\xfd\xfc"),
    "long query string": (b"GET /taskqueue/v1beta2/projects/app/taskqueues/q/tasks?fields=" + b"a," * 3000 +
                          b"a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    "bad chunk size": (b"POST /taskqueue/v1beta2/projects/app/taskqueues/q/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
    "chunk without its CRLF": (b"POST /batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/mixed; boundary=b\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n"),
    "very long task name": (b"GET /taskqueue/v1beta2/projects/app/taskqueues/q/tasks/" + b"n" * 5000 +
                            b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
}


@pytest.mark.parametrize("case", sorted(RAW_CASES))
def test_raw_hostile_requests_get_a_clear_4xx(gunicorn_server, case):
    response = _raw(gunicorn_server.port, RAW_CASES[case])
    assert 400 <= _status(response) < 500
    assert b'"error"' in response


def test_body_over_the_cap_is_refused_before_it_is_read(gunicorn_server):
    request = (b"POST /taskqueue/v1beta2/projects/app/taskqueues/q/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n{}")
    response = _raw(gunicorn_server.port, request)
    assert _status(response) == 413
    assert b'"payloadTooLarge"' in response


def test_chunked_body_over_the_cap_is_refused(gunicorn_server):
    from harness.servers import GunicornServer

    small = GunicornServer({"REDIS_URL": "redis://127.0.0.1:1/0", "MAX_REQUEST_BYTES": "1000",
                            "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING"})
    small.start(wait_healthy=False)
    try:
        chunk = b"{" + b" " * 3000 + b"}"
        request = (b"POST /taskqueue/v1beta2/projects/app/taskqueues/q/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n")
        response = _raw(small.port, request)
        assert _status(response) == 413
    finally:
        small.stop()
