"""Batch limits against gunicorn: answers bounded in total bytes, no nested batch however spelled."""

from __future__ import annotations

import base64
import re

import pytest
import requests

from harness.servers import gunicorn_on

CAP = 4 * 1024 * 1024
BASE = "/taskqueue/v1beta2/projects/app/taskqueues/big"


@pytest.fixture(scope="module")
def web(redis_server):
    server = gunicorn_on(redis_server, 6, WEB_CONCURRENCY="1", MAX_BATCH_RESPONSE_BYTES=str(CAP))
    yield server
    server.stop()


def _batch(parts, boundary="b") -> str:
    body = ""
    for i, (method, path, inner) in enumerate(parts):
        body += (f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <p{i}>\r\n\r\n{method} {path} HTTP/1.1\r\n"
                 f"Content-Type: application/json\r\n\r\n{inner}\r\n")
    return body + f"--{boundary}--\r\n"


def _statuses(response) -> list:
    return [int(s) for s in re.findall(r"HTTP/1.1 (\d{3})", response.text)]


def _worker_rss_kib(server) -> int:
    import subprocess

    pids = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split()
    return sum(int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)) for pid in pids)


def test_batch_answers_stop_at_the_byte_cap(web):
    payload = base64.b64encode(b"x" * (1024 * 1024 - 10)).decode()
    requests.post(web.url + BASE + "/tasks", json={"id": "huge", "payloadBase64": payload}, timeout=30).raise_for_status()
    before = _worker_rss_kib(web)
    r = requests.post(web.url + "/batch", data=_batch([("GET", BASE + "/tasks/huge", "")] * 200),
                      headers={"Content-Type": "multipart/mixed; boundary=b"}, timeout=60)
    assert r.status_code == 200
    statuses = _statuses(r)
    assert len(statuses) == 200
    ran = statuses.count(200)
    assert 2 <= ran <= 4 and statuses[:ran] == [200] * ran and set(statuses[ran:]) == {413}
    assert "MAX_BATCH_RESPONSE_BYTES" in r.text and '"reason": "payloadTooLarge"' in r.text
    assert len(r.content) < CAP + 2 * 1024 * 1024  # the cap, plus the one answer that crossed it
    assert _worker_rss_kib(web) - before < 100 * 1024  # the worker did not keep what it built


@pytest.mark.parametrize("path", ["/%62atch", "/batch", "/%62atch/taskqueue/v1beta2", "/b%61tch"])
def test_nested_batch_is_refused_however_spelled(web, path):
    inner = _batch([("POST", path, _batch([("GET", BASE + "/tasks", "")], "c"))], "i")
    r = requests.post(web.url + "/batch", data=_batch([("POST", path, inner), ("GET", BASE + "/tasks", "")]),
                      headers={"Content-Type": "multipart/mixed; boundary=b"}, timeout=30)
    assert r.status_code == 200
    assert _statuses(r) == [400, 200]
    assert "A batch may not contain another batch" in r.text


def test_encoded_batch_path_at_the_top_is_a_batch(web):
    r = requests.post(web.url + "/%62atch", data=_batch([("GET", BASE + "/tasks", "")]),
                      headers={"Content-Type": "multipart/mixed; boundary=b"}, timeout=30)
    assert r.status_code == 200 and _statuses(r) == [200]
