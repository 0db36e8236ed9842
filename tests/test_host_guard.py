"""DNS rebinding and CSRF: only loopback and ALLOWED_HOSTS are served, on every route; forms redirect
only inside the dashboard, checked before they act. Against gunicorn over raw HTTP."""

from __future__ import annotations

import json
import socket
import uuid

import pytest
import requests

from queueservice.config import parse_allowed
from queueservice.engine.hosts import host_allowed
from tests.helpers import read_all

ROUTES = [
    ("GET", "/taskqueue/v1beta2/projects/app/taskqueues/q/tasks"),
    ("POST", "/admin/v1/projects/app/queues/q/purge"),
    ("GET", "/discovery/v1/apis"),
    ("POST", "/batch"),
    ("GET", "/dashboard/"),
    ("GET", "/dashboard/static/style.css"),
    ("GET", "/admin/v1/queues"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/no/such/route"),
]


def _raw(port, request: bytes) -> tuple:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = read_all(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


@pytest.mark.parametrize("method,path", ROUTES)
def test_foreign_host_is_refused_on_every_route(gunicorn_server, method, path):
    request = (f"{method} {path} HTTP/1.1\r\nHost: evil.example:{gunicorn_server.port}\r\n"
               f"Origin: http://evil.example:{gunicorn_server.port}\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n").encode()
    status, head, body = _raw(gunicorn_server.port, request)
    assert status == 403
    assert b"application/json" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == 403 and error["errors"][0]["reason"] == "forbidden"
    assert "evil.example" in error["message"] and "ALLOWED_HOSTS" in error["message"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST:1", "127.0.0.1:9"])
def test_loopback_hosts_are_served_on_any_port(gunicorn_server, host):
    status, _, _ = _raw(gunicorn_server.port, f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n"
                                              "Connection: close\r\n\r\n".encode())
    assert status == 200


def test_purge_from_a_rebound_page_does_not_run(gunicorn_server, redis_server):
    base = gunicorn_server.url + "/taskqueue/v1beta2/projects/app/taskqueues/rebind"
    requests.post(base + "/tasks", json={"payloadBase64": "aGk="}, timeout=10).raise_for_status()
    request = (f"POST /admin/v1/projects/app/queues/rebind/purge HTTP/1.1\r\n"
               f"Host: evil.example:{gunicorn_server.port}\r\nOrigin: http://evil.example:{gunicorn_server.port}\r\n"
               "Content-Length: 0\r\nConnection: close\r\n\r\n").encode()
    assert _raw(gunicorn_server.port, request)[0] == 403
    assert len(requests.get(base + "/tasks", timeout=10).json()["items"]) == 1


def test_allowed_hosts_setting():
    allowed = parse_allowed(" queueservice, Api.Example:8443 ")
    assert host_allowed("queueservice:8080", allowed)
    assert host_allowed("api.example:8443", allowed)
    assert not host_allowed("api.example:80", allowed)
    assert not host_allowed("evil.example", allowed)
    assert not host_allowed("", allowed)
    assert host_allowed("anything", parse_allowed("*"))


@pytest.mark.parametrize("host", ["127.0.0.2:8080", "127.255.0.1", "localhost.", "LOCALHOST:1", "[::1]:80"])
def test_every_loopback_form_is_served(host):
    assert host_allowed(host, frozenset())


@pytest.mark.parametrize("host", ["[::1]evil", "localhost:abc", "localhost:1@evil", "127.1", "127.0.0.256",
                                  "0.0.0.0"])
def test_malformed_or_foreign_hosts_are_refused(host):
    assert not host_allowed(host, frozenset())


@pytest.mark.parametrize("origin", ["file://", "null", "file:///home/me/page.html", "http://evil.example"])
def test_origin_without_our_host_cannot_write(gunicorn_server, origin):
    r = requests.post(gunicorn_server.url + "/taskqueue/v1beta2/projects/app/taskqueues/o/tasks",
                      json={"payloadBase64": "aGk="}, headers={"Origin": origin}, timeout=10)
    assert r.status_code == 403
    assert r.json()["error"]["errors"][0]["reason"] == "forbidden"


def test_same_origin_page_can_write(gunicorn_server):
    r = requests.post(gunicorn_server.url + "/taskqueue/v1beta2/projects/app/taskqueues/o/tasks",
                      json={"payloadBase64": "aGk="}, headers={"Origin": gunicorn_server.url}, timeout=10)
    assert r.status_code == 200


@pytest.mark.parametrize("target", ["/dashboard/q/app/x\r\nSet-Cookie: a=b", "https://evil.example/",
                                    "//evil.example/dashboard/", "/dashboard/\\evil", "/elsewhere",
                                    "/dashboard/../elsewhere"])
def test_bad_redirect_target_is_refused_before_the_action(gunicorn_server, target):
    queue = "next-" + uuid.uuid4().hex[:8]
    r = requests.post(f"{gunicorn_server.url}/dashboard/q/app/{queue}/insert",
                      data={"id": "t1", "payload": "x", "next": target}, allow_redirects=False, timeout=10)
    assert r.status_code == 400
    assert "next" in r.text and "text/html" in r.headers["Content-Type"]
    listed = requests.get(f"{gunicorn_server.url}/taskqueue/v1beta2/projects/app/taskqueues/{queue}/tasks",
                          timeout=10).json()
    assert "items" not in listed  # the action never ran: the queue is empty


def test_good_redirect_target_is_followed(gunicorn_server):
    queue = "next-" + uuid.uuid4().hex[:8]
    r = requests.post(f"{gunicorn_server.url}/dashboard/q/app/{queue}/insert",
                      data={"id": "t1", "payload": "x", "next": f"/dashboard/q/app/{queue}?state=all"},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert r.headers["Location"].startswith(f"/dashboard/q/app/{queue}?state=all&msg=Inserted")


def test_an_unknown_dashboard_page_is_an_html_404(gunicorn_server):
    r = requests.get(gunicorn_server.url + "/dashboard/nope", timeout=10)
    assert r.status_code == 404 and "text/html" in r.headers["Content-Type"]
