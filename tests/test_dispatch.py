"""Push dispatch to a real receiver over HTTP: headers, counters and retries as recorded from Google
(guide 3.1 to 3.4; conformance 30, 31, 32, 33, 34, 36), and exactly-once claims across dispatchers."""

from __future__ import annotations

import base64
import time

import pytest
import redis

from queueservice.dispatch.dispatcher import Dispatcher
from tests.receiver import Receiver
from queueservice.stores.pushqueue.queues import default_queue
from queueservice.stores.pushqueue.store import PushQueueStore, TaskGone

QUEUE = "projects/p/locations/l/queues/push"


@pytest.fixture
def store(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    store = PushQueueStore(client)
    queue = default_queue(QUEUE)
    queue["retryConfig"].update(minBackoff=50_000, maxBackoff=200_000)
    store.create(queue)
    return store


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def dispatcher(store, receiver):
    d = Dispatcher(store, app_engine_urls={"worker": receiver.url}, default_app_engine_url=receiver.url)
    d.start()
    yield d
    d.stop()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_an_http_task_arrives_once_with_googles_headers_and_is_gone(store, receiver, dispatcher):
    store.create_task(QUEUE, "first", {"httpRequest": {"url": receiver.url + "/hook?x=1", "httpMethod": "PUT",
                                                       "headers": {"X-Mine": "1", "User-Agent": "mine"},
                                                       "body": b64(b"payload")}})
    ((method, path, headers, body),) = receiver.wait_for(1)
    assert (method, path, body) == ("PUT", "/hook", b"payload")
    assert headers["X-Cloudtasks-Queuename"] == "push" and headers["X-Cloudtasks-Taskname"] == "first"
    assert headers["X-Cloudtasks-Taskretrycount"] == "0" and headers["X-Cloudtasks-Taskexecutioncount"] == "0"
    assert float(headers["X-Cloudtasks-Tasketa"]) > 1.6e9
    assert headers["User-Agent"] == "Google-Cloud-Tasks" and headers["X-Mine"] == "1"
    assert "X-Cloudtasks-Taskpreviousresponse" not in headers and "X-Cloudtasks-Taskretryreason" not in headers
    time.sleep(0.3)
    with pytest.raises(TaskGone):
        store.get_task(QUEUE, "first")
    assert len(receiver.requests) == 1


def test_http_retries_count_as_google_recorded_503_404_200(store, receiver, dispatcher):
    receiver.statuses = [503, 404, 200]
    store.create_task(QUEUE, "r", {"httpRequest": {"url": receiver.url + "/r"}})
    sent = receiver.wait_for(3)
    counts = [(h["X-Cloudtasks-Taskretrycount"], h["X-Cloudtasks-Taskexecutioncount"],
               h.get("X-Cloudtasks-Taskpreviousresponse"), h.get("X-Cloudtasks-Taskretryreason")) for _, _, h, _ in sent]
    assert counts == [("0", "0", None, None), ("1", "0", "503", ""), ("2", "1", "404", "")]


def test_app_engine_retries_count_every_answer_and_say_app_error(store, receiver, dispatcher):
    receiver.statuses = [503, 404, 200]
    store.create_task(QUEUE, "ae", {"appEngineHttpRequest": {"relativeUri": "/_ah/queue/deferred",
                                                             "appEngineRouting": {"service": "worker"},
                                                             "headers": {"User-Agent": "mine"},
                                                             "body": b64(b"\x80\x04pickle")}})
    sent = receiver.wait_for(3)
    assert [p for _, p, _, _ in sent] == ["/_ah/queue/deferred"] * 3
    first = sent[0][2]
    assert first["User-Agent"] == "mine AppEngine-Google; (+http://code.google.com/appengine)"
    assert first["Content-Type"] == "application/octet-stream" and first["X-Appengine-Taskname"] == "ae"
    counts = [(h["X-Appengine-Taskretrycount"], h["X-Appengine-Taskexecutioncount"], h.get("X-Appengine-Taskretryreason"))
              for _, _, h, _ in sent]
    assert counts == [("0", "0", None), ("1", "1", "App Error"), ("2", "2", "App Error")]


def test_a_task_stops_after_max_attempts(store, receiver, dispatcher):
    receiver.statuses = [500] * 10
    store.create_task(QUEUE, "doomed", {"httpRequest": {"url": receiver.url + "/d"},
                                        "retryConfig": {"maxAttempts": 3, "minBackoff": "0.05s", "maxBackoff": "0.1s"}})
    receiver.wait_for(3)
    time.sleep(0.5)
    assert len(receiver.requests) == 3
    with pytest.raises(TaskGone):
        store.get_task(QUEUE, "doomed")


def test_two_dispatchers_deliver_each_task_exactly_once(store, receiver, redis_server):
    others = [Dispatcher(PushQueueStore(redis.Redis.from_url(redis_server.url)), senders=8) for _ in range(2)]
    for i in range(150):
        store.create_task(QUEUE, f"t{i}", {"httpRequest": {"url": f"{receiver.url}/t{i}"}})
    for d in others:
        d.start()
    try:
        receiver.wait_for(150, timeout=30)
        time.sleep(0.5)
    finally:
        for d in others:
            d.stop()
    paths = sorted(p for _, p, _, _ in receiver.requests)
    assert paths == sorted(f"/t{i}" for i in range(150))


def test_the_queues_http_target_overrides_the_url_method_and_headers(store, receiver, dispatcher):
    port = receiver.url.rsplit(":", 1)[1]
    name = "projects/p/locations/l/queues/overridden"
    queue = default_queue(name)
    queue["httpTarget"] = {"uriOverride": {"scheme": "HTTP", "host": "127.0.0.1", "port": int(port),
                                           "pathOverride": {"path": "/over"}},
                           "httpMethod": "PATCH", "headerOverrides": [{"header": {"key": "X-Env", "value": "local"}}]}
    store.create(queue)
    store.create_task(name, "o", {"httpRequest": {"url": "https://example.invalid/original", "httpMethod": "POST"}})
    sent = [r for r in receiver.wait_for(1) if r[1] == "/over"]
    assert sent and sent[0][0] == "PATCH" and sent[0][2]["X-Env"] == "local"


def test_if_not_exists_fills_only_what_the_url_lacks():
    from queueservice.dispatch.requests_for import override_url

    override = {"host": "other", "pathOverride": {"path": "/p"}, "uriOverrideEnforceMode": "IF_NOT_EXISTS"}
    assert override_url("http://mine:81/kept?q=1", override) == "http://mine:81/kept?q=1"
    assert override_url("http://mine/", override) == "http://mine/p"
    assert override_url("http://mine/x", {"host": "other"}) == "http://other/x"  # ALWAYS: given parts only
