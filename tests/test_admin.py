"""The admin API (through googleapiclient, in-process on every store), metrics and access logs."""

from __future__ import annotations

import logging
import time

import pytest
from googleapiclient.discovery import build

from tests.flask_http import FlaskHttp
from tests.helpers import PROJECT, expect_error, insert, lease


@pytest.fixture
def admin(app):
    return build("queueadmin", "v1", http=FlaskHttp(app), static_discovery=False,
                 discoveryServiceUrl="http://localhost/discovery/v1/apis/{api}/{apiVersion}/rest")


def test_queues_list_counts_tasks_by_state(api, admin, queue):
    for i in range(4):
        insert(api, queue, id=f"t{i}")
    insert(api, queue, id="later", leaseTimestamp=str(int(time.time() * 1e6) + 3_600_000_000))
    lease(api, queue, num=1, secs=600)
    (summary,) = [q for q in admin.queues().list().execute()["items"] if q["queue"] == queue]
    assert summary["project"] == "test-app"
    assert (summary["available"], summary["leased"], summary["delayed"], summary["dead"]) == (3, 1, 1, 0)
    assert summary["api"] == "taskqueue"
    assert summary["leasedLastMinute"] == "1"  # int64 fields are JSON strings, as the document types them


def test_tasks_list_pages_by_state(api, admin, queue):
    for i in range(7):
        insert(api, queue, id=f"t{i}", tag="odd" if i % 2 else "even")
    lease(api, queue, num=2, secs=600)
    page = admin.tasks().list(project=PROJECT, queue=queue, state="available", offset=2, limit=3).execute()
    assert [t["id"] for t in page["items"]] == ["t4", "t5", "t6"]
    assert page["total"] == 5
    leased = admin.tasks().list(project=PROJECT, queue=queue, state="leased").execute()
    assert [(t["id"], t["state"]) for t in leased["items"]] == [("t0", "leased"), ("t1", "leased")]
    tagged = admin.tasks().list(project=PROJECT, queue=queue, state="all", tag="odd").execute()
    assert {t["id"] for t in tagged["items"]} == {"t1", "t3", "t5"}


def test_task_get_has_payload_and_history(api, admin, queue):
    insert(api, queue, b"{\"job\": 1}", id="h")
    lease(api, queue, num=1, secs=600)
    task = admin.tasks().get(project=PROJECT, queue=queue, task="h").execute()
    assert task["state"] == "leased" and task["payloadSize"] == 10
    assert [e["event"] for e in task["history"]] == ["leased", "inserted"]


def test_release_ends_a_lease_whoever_holds_it(api, admin, queue):
    insert(api, queue, id="r")
    lease(api, queue, num=1, secs=600)
    assert admin.tasks().release(project=PROJECT, queue=queue, task="r").execute()["state"] == "available"
    assert [t["id"] for t in lease(api, queue)] == ["r"]


def test_release_of_a_task_not_leased_is_refused(api, admin, queue):
    insert(api, queue, id="free")
    expect_error(admin.tasks().release(project=PROJECT, queue=queue, task="free"), 400, "failedPrecondition")


def test_dead_letters_are_listed_and_requeued(app, admin, queue):
    from queueservice.stores.pullqueue.keys import QueueKeys
    from queueservice.stores.pullqueue.store import TaskStore

    store = TaskStore(app.extensions["queueservice"].redis)
    keys = QueueKeys("test-app", queue)
    for name in ("d1", "d2"):
        store.insert(keys, name, b"")
    store.lease(keys, 2, 0, max_leases=1)
    store.lease(keys, 2, 0, max_leases=1)
    dead = admin.tasks().list(project=PROJECT, queue=queue, state="dead").execute()
    assert [(t["id"], t["state"], t["retryCount"]) for t in dead["items"]] == [("d1", "dead", 1), ("d2", "dead", 1)]
    history = admin.queues().history(project=PROJECT, queue=queue, task="d1").execute()["items"]
    assert [e["event"] for e in history][:1] == ["dead_lettered"]
    assert admin.queues().requeueDead(project=PROJECT, queue=queue).execute() == {"requeued": 2, "remaining": 0}
    assert admin.queues().get(project=PROJECT, queue=queue).execute()["available"] == 2


def test_purge_in_steps(api, admin, queue):
    for i in range(5):
        insert(api, queue, id=f"p{i}")
    assert admin.queues().purge(project=PROJECT, queue=queue, limit=3).execute() == {"deleted": 3, "remaining": 2}
    assert admin.queues().purge(project=PROJECT, queue=queue, limit=3).execute() == {"deleted": 2, "remaining": 0}
    assert admin.queues().get(project=PROJECT, queue=queue).execute()["total"] == 0


def test_admin_errors_use_googles_format(admin, client, queue):
    expect_error(admin.tasks().get(project=PROJECT, queue=queue, task="nope"), 404, "notFound")
    r = client.get(f"/admin/v1/projects/app/queues/{queue}/tasks?state=weird")
    assert r.status_code == 400 and r.get_json()["error"]["errors"][0]["location"] == "state"


def test_access_log_line_per_call(api, queue, caplog):
    caplog.set_level(logging.INFO, logger="queueservice.access")
    insert(api, queue, id="logged")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "queueservice.access"]
    assert line.startswith(f"taskqueue.tasks.insert project={PROJECT} taskqueue={queue} status=200 ")
    assert line.endswith("ms")


def test_metrics_count_calls_and_tasks(client, api, queue):
    insert(api, queue, id="m1")
    lease(api, queue, num=1, secs=600)
    text = client.get("/metrics").get_data(as_text=True)
    assert f'queueservice_tasks{{api="taskqueue",project="test-app",queue="{queue}",state="leased"}} 1.0' in text
    assert 'queueservice_api_requests_total{method="taskqueue.tasks.lease",status="200"}' in text
    assert 'queueservice_api_request_seconds_bucket{le="0.001",method="taskqueue.tasks.lease"}' in text


def test_the_clock_moves_forward_for_every_process_and_back(api, admin, client, queue):
    """Schedules come due at once: a task delayed an hour is leasable after the clock moves an hour."""
    if client.post("/admin/v1/clock/advance?seconds=0").status_code != 200:
        pytest.skip("the clock cannot move on a Redis Cluster")
    start = admin.clock().get().execute()
    assert start["offsetSeconds"] == 0
    insert(api, queue, id="later", leaseTimestamp=str(int(start["now"]) + 3_600_000_000))
    assert lease(api, queue) == []
    moved = admin.clock().advance(seconds=3600.5).execute()
    assert moved["offsetSeconds"] == 3600.5 and int(moved["now"]) >= int(start["now"]) + 3_600_500_000
    assert [t["id"] for t in lease(api, queue)] == ["later"]
    assert admin.clock().reset().execute()["offsetSeconds"] == 0


def test_the_clock_cannot_move_backwards(client):
    r = client.post("/admin/v1/clock/advance?seconds=-1")
    assert r.status_code == 400 and "seconds" in r.get_json()["error"]["message"]


def test_reset_forgets_pull_queues_their_tasks_and_tombstones(api, admin, queue):
    insert(api, queue, id="kept")
    insert(api, queue, id="gone")
    api.tasks().delete(project=PROJECT, taskqueue=queue, task="gone").execute()
    admin.clock().advance(seconds=5).execute()
    assert admin.reset().all().execute()["queues"] >= 1
    assert not [q for q in admin.queues().list().execute().get("items", []) if q["queue"] == queue]
    assert admin.clock().get().execute()["offsetSeconds"] == 0
    assert lease(api, queue) == []
    insert(api, queue, id="gone")   # the tombstone went too
    assert [t["id"] for t in lease(api, queue)] == ["gone"]


def test_wait_idle_on_a_pull_queue_waits_for_its_consumers(api, admin, queue):
    insert(api, queue, id="work")
    busy = admin.queues().waitIdle(project=PROJECT, queue=queue, timeoutSeconds=0.05)
    expect_error(busy, 504, "deadlineExceeded", "1 tasks")
    (task,) = lease(api, queue)
    api.tasks().delete(project=PROJECT, taskqueue=queue, task=task["id"]).execute()
    assert admin.queues().waitIdle(project=PROJECT, queue=queue).execute()["idle"] is True
