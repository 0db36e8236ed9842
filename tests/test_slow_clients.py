"""Slow clients against gunicorn (2 workers × 8 threads): 64 connections that trickle a head or a
body, or stay idle, do not delay ordinary requests; a request not received in time gets 408."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from harness.servers import gunicorn_on
from harness.slow_clients import SlowClients, ordinary_latencies
from tests.helpers import read_all


@pytest.fixture(scope="module")
def web(redis_server):
    server = gunicorn_on(redis_server, 8, REQUEST_READ_TIMEOUT_SECS="3")
    yield server
    server.stop()


def test_ordinary_requests_stay_fast_while_64_slow_clients_are_open(web):
    slow = SlowClients(web.port, 64).start()
    try:
        times = ordinary_latencies(web.url, calls=12, timeout=10)
    finally:
        slow.stop()
    assert max(times) < 2.0, times


def test_a_request_not_received_in_time_is_answered_408(web):
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(b"POST /taskqueue/v1beta2/projects/app/taskqueues/slow/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 50\r\n\r\n{")
        started = time.monotonic()
        data = b""
        while not data.endswith(b"}}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    assert 2.0 < time.monotonic() - started < 6.0
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert json.loads(body)["error"]["errors"][0]["reason"] == "requestTimeout"


def test_expect_continue_and_pipelined_requests_are_served(web):
    body = b'{"payloadBase64": "aGk="}'
    path = b"/taskqueue/v1beta2/projects/app/taskqueues/expect/tasks"
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body + b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = read_all(sock)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3})", data)
    assert [s for s in statuses if s != b"100"] == [b"200", b"200", b"200"]
