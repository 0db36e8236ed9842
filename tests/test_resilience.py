"""Crashes, a lost or slow Redis, and shutdown: real redis-server and gunicorn processes."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import pytest
import redis
import requests

from queueservice.stores.pullqueue.keys import QueueKeys

from tests.helpers import b64
from harness.servers import GunicornServer, RedisServer, wait_until

TIMEOUT_SECS = 0.5


@pytest.fixture
def stack():
    """A durable Redis (append-only file, fsync always, as in docker-compose.yml) and gunicorn."""
    redis_server = RedisServer(appendonly=True).start()
    web = GunicornServer({"REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "2", "THREADS": "4",
                          "REDIS_TIMEOUT_SECS": str(TIMEOUT_SECS), "LOG_LEVEL": "WARNING"}).start()
    yield redis_server, web
    web.stop()
    redis_server.stop()


def _base(web, queue):
    return f"{web.url}/taskqueue/v1beta2/projects/app/taskqueues/{queue}"


def _insert(web, queue, name, timeout=10):
    return requests.post(_base(web, queue) + "/tasks", timeout=timeout,
                         json={"id": name, "payloadBase64": b64(name.encode())})


def test_lost_redis_answers_503_quickly_and_service_resumes_by_itself(stack):
    redis_server, web = stack
    assert _insert(web, "q", "before").status_code == 200
    redis_server.kill()
    started = time.monotonic()
    r = _insert(web, "q", "during")
    assert r.status_code == 503
    assert r.json()["error"]["errors"][0]["reason"] == "backendError"
    assert time.monotonic() - started < 10
    assert requests.get(web.url + "/healthz", timeout=10).status_code == 503
    redis_server.start()
    wait_until(lambda: requests.get(web.url + "/healthz", timeout=5).status_code == 200, timeout=20,
               what="health after Redis returned")
    wait_until(lambda: _insert(web, "q", "after").status_code == 200, timeout=10, what="inserts to resume")
    assert requests.get(_base(web, "q") + "/tasks/before", timeout=5).status_code == 200


def test_slow_redis_answers_503_within_the_timeout(stack):
    redis_server, web = stack
    assert _insert(web, "q", "warm").status_code == 200
    redis_server.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = requests.post(_base(web, "q") + "/tasks/lease", params={"numTasks": 1, "leaseSecs": 60}, timeout=15)
        elapsed = time.monotonic() - started
        assert r.status_code == 503
        assert elapsed < 10
    finally:
        redis_server.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: requests.post(_base(web, "q") + "/tasks/lease", timeout=5,
                                     params={"numTasks": 1, "leaseSecs": 60}).json().get("items"),
               timeout=15, what="lease after Redis woke")


def test_acknowledged_inserts_survive_kill_9_of_service_and_redis(stack):
    redis_server, web = stack
    queue = "durable"
    acknowledged, stop = [], threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set():
            name = f"w{worker}-{i}"
            i += 1
            try:
                if _insert(web, queue, name, timeout=3).status_code == 200:
                    acknowledged.append(name)
            except requests.RequestException:
                pass

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acknowledged) >= 100, timeout=30, what="load")
    leased = requests.post(_base(web, queue) + "/tasks/lease", timeout=5,
                           params={"numTasks": 5, "leaseSecs": 2}).json()["items"]
    web.kill(signal.SIGKILL)
    web.start()
    wait_until(lambda: len(acknowledged) >= 200, timeout=30, what="load after service restart")
    redis_server.kill(signal.SIGKILL)
    redis_server.start()
    wait_until(lambda: len(acknowledged) >= 300, timeout=30, what="load after Redis restart")
    stop.set()
    for t in threads:
        t.join()
    names = {t["id"] for t in leased}
    missing = [n for n in acknowledged
               if requests.get(_base(web, queue) + "/tasks/" + n, timeout=5).status_code != 200]
    assert missing == []
    time.sleep(2.1)
    again = requests.post(_base(web, queue) + "/tasks/lease", timeout=5,
                          params={"numTasks": 1000, "leaseSecs": 60}).json()["items"]
    assert names <= {t["id"] for t in again}


def test_sigterm_drains_in_flight_requests(stack):
    """Requests under way when SIGTERM arrives are answered; none is run and left unanswered.

    Connections still in the kernel's accept queue when the listener closes are reset without
    being run; those must have left no task behind.
    """
    redis_server, web = stack
    queue = "drain-" + uuid.uuid4().hex[:6]
    big = b64(b"x" * 900_000)
    results, sent_term = [], threading.Event()

    def send(i):
        try:
            r = requests.post(_base(web, queue) + "/tasks", timeout=20,
                              json={"id": f"t{i}", "payloadBase64": big})
            results.append((i, r.status_code, sent_term.is_set()))
        except requests.ConnectionError:
            results.append((i, None, sent_term.is_set()))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    web.proc.send_signal(signal.SIGTERM)
    sent_term.set()
    for t in threads:
        t.join()
    assert web.proc.wait(30) == 0
    stored = {name.decode() for name in
              redis.Redis.from_url(redis_server.url).hkeys(QueueKeys("app", queue).tasks)}
    answered = {f"t{i}" for i, code, _ in results if code == 200}
    unanswered = {f"t{i}" for i, code, _ in results if code is None}
    assert all(code in (200, None) for _, code, _ in results)
    assert answered <= stored
    assert unanswered & stored == set()
    assert any(code == 200 and after for _, code, after in results), "nothing was in flight at SIGTERM"
