"""Seeing and steering push queues: finished tasks with their attempts, dispatch metrics, and the
admin API's test controls (wait until idle, pause and resume, run now, reset), against gunicorn
dispatching to a real receiver over HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from urllib.parse import unquote_plus

import pytest
import requests
from google.api_core import exceptions
from google.cloud import tasks_v2
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import REPO, gunicorn_on
from tests.helpers import tasks_client

PARENT = "projects/ops/locations/here"
ADMIN = "/admin/v1/projects/ops/queues/here:{}"


@pytest.fixture(scope="module")
def server(redis_server, receiver):
    web = gunicorn_on(redis_server, 12, APP_ENGINE_URL=receiver.url)
    yield web
    web.stop()


@pytest.fixture(scope="module")
def client(server):
    return tasks_client(server.url)


def make_queue(client, queue_id, **retry):
    name = f"{PARENT}/queues/{queue_id}"
    client.create_queue(parent=PARENT, queue={"name": name, "retry_config": {
        "min_backoff": {"nanos": 10_000_000}, "max_backoff": {"nanos": 20_000_000}, **retry}})
    return name


def admin(server, method, path, **params):
    return requests.request(method, server.url + path, params={"api": "cloudtasks", **params}, timeout=30)


def wait_idle(server, queue_id, timeout=10):
    answer = admin(server, "POST", ADMIN.format(queue_id) + "/waitIdle", timeoutSeconds=timeout)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_task_that_succeeded_after_a_retry_stays_visible_with_its_attempts(client, server, receiver):
    name = make_queue(client, "kept")
    receiver.statuses[:] = [503]
    client.create_task(parent=name, task={"name": f"{name}/tasks/job1", "app_engine_http_request": {
        "relative_uri": "/work?x=1", "body": b'{"n": 1}', "headers": {"Content-Type": "application/json"}}})
    assert wait_idle(server, "kept")["idle"] is True
    with pytest.raises(exceptions.NotFound):   # gone from the API, as on Google
        client.get_task(name=f"{name}/tasks/job1")

    finished = admin(server, "GET", ADMIN.format("kept") + "/tasks", state="finished").json()
    (task,) = finished["items"]
    assert (task["id"], task["state"], task["outcome"], task["dispatchCount"], task["lastStatus"]) == \
        ("job1", "finished", "succeeded", 2, 200)
    detail = admin(server, "GET", ADMIN.format("kept") + "/tasks/job1").json()
    assert [a["responseStatus"] for a in detail["attempts"]] == [503, 200]
    assert all(int(a["responseTime"]) >= int(a["dispatchTime"]) > 0 for a in detail["attempts"])
    assert detail["headers"]["Content-Type"] == "application/json" and detail["tag"] == "/work?x=1"
    assert detail["target"] == "app engine" and detail["payloadSize"] == 8
    assert [e["event"] for e in detail["history"]][:2] == ["succeeded", "answered_200"]

    summary = admin(server, "GET", ADMIN.format("kept")).json()
    assert (summary["finished"], summary["succeeded"], summary["retries"]) == (1, "1", "1")
    assert summary["dispatches"]["5xx"] == "1" and summary["dispatches"]["2xx"] == "1"

    page = requests.get(server.url + "/dashboard/q/ops/here:kept?api=cloudtasks&state=finished", timeout=10).text
    assert "job1" in page and "succeeded" in page
    task_page = requests.get(server.url + "/dashboard/q/ops/here:kept/t/job1?api=cloudtasks", timeout=10).text
    assert re.search(r"<td><span class=\"event failed\">503</span></td>", task_page)
    assert "application/json" in task_page and "&#34;n&#34;: 1" in task_page


def test_a_task_dropped_after_its_last_attempt_is_listed_as_dropped(client, server, receiver):
    name = make_queue(client, "dropping", max_attempts=2)
    receiver.statuses[:] = [500, 500]
    client.create_task(parent=name, task={"name": f"{name}/tasks/doomed",
                                          "http_request": {"url": receiver.url + "/doomed"}})
    wait_idle(server, "dropping")
    (task,) = admin(server, "GET", ADMIN.format("dropping") + "/tasks", state="finished").json()["items"]
    assert (task["outcome"], task["dispatchCount"], task["lastStatus"]) == ("dropped", 2, 500)
    history = admin(server, "GET", ADMIN.format("dropping") + "/history").json()["items"]
    assert [(e["task"], e["event"]) for e in history] == [("doomed", "dropped")]


def test_dispatch_metrics_count_answers_retries_outcomes_and_latency(client, server, receiver):
    name = make_queue(client, "measured", max_attempts=1)
    receiver.statuses[:] = [404]
    client.create_task(parent=name, task={"http_request": {"url": receiver.url + "/m1"}})
    client.create_task(parent=name, task={"http_request": {"url": receiver.url + "/m2"}})
    wait_idle(server, "measured")
    samples = {}
    for family in text_string_to_metric_families(requests.get(server.url + "/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.labels.get("queue") == "here:measured":
                extra = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in ("api", "project", "queue")))
                samples[(sample.name, extra)] = sample.value
    assert samples[("queueservice_dispatches_total", (("response_class", "4xx"),))] == 1
    assert samples[("queueservice_dispatches_total", (("response_class", "2xx"),))] == 1
    assert samples[("queueservice_tasks_finished_total", (("outcome", "dropped"),))] == 1
    assert samples[("queueservice_tasks_finished_total", (("outcome", "succeeded"),))] == 1
    assert samples[("queueservice_dispatch_latency_seconds_count", ())] == 2
    assert samples[("queueservice_dispatch_latency_seconds_bucket", (("le", "+Inf"),))] == 2
    assert 0 < samples[("queueservice_dispatch_latency_seconds_sum", ())] < 5
    assert samples[("queueservice_tasks", (("state", "finished"),))] == 2
    assert samples[("queueservice_dispatch_retries_total", ())] == 0


def test_wait_idle_times_out_on_a_paused_queue_and_pause_resume_run_steer_it(client, server, receiver):
    name = make_queue(client, "steered")
    paused = admin(server, "POST", ADMIN.format("steered") + "/pause").json()
    assert paused["queue"]["queueState"] == "PAUSED" and client.get_queue(name=name).state == tasks_v2.Queue.State.PAUSED
    client.create_task(parent=name, task={"name": f"{name}/tasks/held", "http_request": {"url": receiver.url + "/held"}})
    client.create_task(parent=name, task={"name": f"{name}/tasks/pushed", "http_request": {"url": receiver.url + "/pushed"}})
    late = admin(server, "POST", ADMIN.format("steered") + "/waitIdle", timeoutSeconds=0.3)
    assert late.status_code == 504 and late.json()["error"]["errors"][0]["reason"] == "deadlineExceeded"
    assert "2 tasks" in late.json()["error"]["message"]

    assert admin(server, "POST", ADMIN.format("steered") + "/tasks/pushed/run").status_code in (200, 204)
    late = admin(server, "POST", ADMIN.format("steered") + "/waitIdle", timeoutSeconds=5)
    assert "1 tasks" in late.json()["error"]["message"]   # the run one went; the other waits for the resume
    assert [p for _, p, _, _ in receiver.requests if p in ("/held", "/pushed")] == ["/pushed"]

    form = requests.post(server.url + "/dashboard/q/ops/here:steered/do/resume?api=cloudtasks",
                         data={"next": "/dashboard/q/ops/here:steered?api=cloudtasks"}, timeout=10, allow_redirects=False)
    assert form.status_code == 303 and "Resumed" in unquote_plus(form.headers["Location"])
    wait_idle(server, "steered")
    assert "/held" in [p for _, p, _, _ in receiver.requests]


def test_wait_idle_ignores_tasks_due_later_than_within_seconds(client, server):
    name = make_queue(client, "tomorrow")
    client.create_task(parent=name, task={"http_request": {"url": "http://127.0.0.1:9/"},
                                          "schedule_time": {"seconds": int(time.time()) + 86400}})
    assert wait_idle(server, "tomorrow")["idle"] is True
    late = admin(server, "POST", ADMIN.format("tomorrow") + "/waitIdle", timeoutSeconds=0, withinSeconds=10**8)
    assert late.status_code == 504


def test_finished_tasks_are_forgotten_after_finished_task_secs(client, server, receiver):
    name = make_queue(client, "forgetful")
    client.create_task(parent=name, task={"http_request": {"url": receiver.url + "/f"}})
    wait_idle(server, "forgetful")
    assert admin(server, "GET", ADMIN.format("forgetful")).json()["finished"] == 1
    requests.post(server.url + "/admin/v1/clock/advance", params={"seconds": 3601}, timeout=10).raise_for_status()
    try:
        assert admin(server, "GET", ADMIN.format("forgetful")).json()["finished"] == 0
        assert admin(server, "GET", ADMIN.format("forgetful") + "/tasks", state="finished").json().get("items", []) == []
    finally:
        requests.post(server.url + "/admin/v1/clock/reset", timeout=10).raise_for_status()


def test_reset_forgets_queues_tasks_tombstones_and_deleted_names(client, server, receiver):
    name = make_queue(client, "reset-me")
    client.create_task(parent=name, task={"name": f"{name}/tasks/once",
                                          "http_request": {"url": "http://127.0.0.1:9/"},
                                          "schedule_time": {"seconds": int(time.time()) + 86400}})
    client.delete_task(name=f"{name}/tasks/once")
    gone = make_queue(client, "deleted-before")
    client.delete_queue(name=gone)
    with pytest.raises(exceptions.BadRequest, match="existed too recently"):
        make_queue(client, "deleted-before")
    requests.post(server.url + "/admin/v1/clock/advance", params={"seconds": 5}, timeout=10).raise_for_status()

    answer = requests.post(server.url + "/admin/v1/reset", timeout=10)
    assert answer.status_code == 200 and answer.json()["queues"] >= 1
    assert requests.get(server.url + "/admin/v1/clock", timeout=10).json()["offsetSeconds"] == 0
    assert not [q for q in requests.get(server.url + "/admin/v1/queues", timeout=10).json().get("items", [])
                if q["api"] == "cloudtasks"]
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=name)
    make_queue(client, "deleted-before")   # the re-create window is forgotten too
    make_queue(client, "reset-me")
    client.create_task(parent=name, task={"name": f"{name}/tasks/once", "http_request": {"url": receiver.url + "/"}})


def cli(server, *args):
    return subprocess.run([sys.executable, "-m", "queueservice", *args, "--url", server.url, "--api", "cloudtasks"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_cli_steers_push_queues_and_shows_attempts(client, server, receiver):
    name = make_queue(client, "by-cli")
    assert "Paused" in cli(server, "pause", "ops", "here:by-cli").stdout
    client.create_task(parent=name, task={"name": f"{name}/tasks/c1", "http_request": {
        "url": receiver.url + "/c1", "headers": {"X-Job": "7"}, "body": b"hi"}})
    table = cli(server, "queues").stdout
    assert re.search(r"here:by-cli\s+PAUSED\s+1\s+0\s+0\s+0", table), table
    assert "POST " + receiver.url + "/c1" in cli(server, "tasks", "ops", "here:by-cli", "--state", "scheduled").stdout
    waited = cli(server, "wait-idle", "ops", "here:by-cli", "--timeout", "0.1")
    assert waited.returncode == 1 and "504" in waited.stderr
    assert cli(server, "resume", "ops", "here:by-cli").returncode == 0
    assert "idle after" in cli(server, "wait-idle", "ops", "here:by-cli").stdout
    shown = cli(server, "task", "ops", "here:by-cli", "c1").stdout
    assert "outcome      succeeded" in shown and "header       X-Job: 7" in shown and "attempt 1" in shown
    listed = json.loads(cli(server, "tasks", "ops", "here:by-cli", "--state", "finished", "--json").stdout)
    assert [t["id"] for t in listed["items"]] == ["c1"]
