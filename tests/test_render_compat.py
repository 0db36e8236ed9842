"""TASKQUEUE_COMPAT=render: the render service's daemon and tools, written against the first
emulator, work unchanged; without the setting Google's behaviour wins."""

from __future__ import annotations

import base64
import json

import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from queueservice.engine.app import create_app
from queueservice.config import Settings

from tests.flask_http import FlaskHttp
from tests.helpers import expect_json_error

PROJECT = "render-app"


@pytest.fixture
def render_app(app_redis):
    return create_app(Settings(redis_url="redis://unused", log_level="WARNING", taskqueue_compat="render"),
                      redis_client=app_redis)


def encode(payload: dict) -> str:
    return base64.b64encode(json.dumps(payload).encode("ascii")).decode()


class QueueHandler:
    """The render daemon's queue calls, as its QueueHandler makes them (discovery at /api/...)."""

    def __init__(self, app, queue):
        self.queue = queue
        self.api = build("taskqueue", "v1beta2", http=FlaskHttp(app), static_discovery=False,
                         discoveryServiceUrl="http://localhost/api/{api}/{apiVersion}")

    def create_task(self, payload, tag=None):
        task = {"kind": "taskqueues#task", "queueName": self.queue, "payloadBase64": encode(payload)}
        if tag is not None:
            task["tag"] = tag
        return self.api.tasks().insert(project="b~" + PROJECT, taskqueue=self.queue, body=task).execute()["id"]

    def _tasks(self, result):
        tasks = []
        if result["kind"] == "taskqueue#tasks":
            for task in result["items"]:
                task["payload"] = json.loads(base64.b64decode(task["payloadBase64"]).decode())
                tasks.append(task)
        return tasks

    def lease_tasks(self, count, secs, tag=None):
        return self._tasks(self.api.tasks().lease(project="b~" + PROJECT, taskqueue=self.queue, leaseSecs=secs,
                                                  numTasks=count, groupByTag=tag is not None, tag=tag).execute())

    def list_tasks(self):
        return self._tasks(self.api.tasks().list(project=PROJECT, taskqueue=self.queue).execute())

    def update_task(self, task_id, new_lease_secs):
        return self.api.tasks().patch(project="b~" + PROJECT, taskqueue=self.queue, newLeaseSeconds=new_lease_secs,
                                      task=task_id, body={"queueName": self.queue}).execute()

    def delete_task(self, task_id):
        self.api.tasks().delete(project="b~" + PROJECT, taskqueue=self.queue, task=task_id).execute()

    def __len__(self):
        return self.api.taskqueues().get(project=PROJECT, taskqueue=self.queue, getStats=True).execute()["stats"]["totalTasks"]


def test_the_render_daemon_loop_works_unchanged(render_app):
    queue = QueueHandler(render_app, "render_queue")  # the first emulator took underscores
    assert queue.lease_tasks(20, 50 * 20, tag="task") == []  # an empty queue: the loop goes on
    for i in range(3):
        queue.create_task({"kind": "task#render", "n": i}, tag="task")
    queue.create_task({"kind": "other"}, tag="misc")
    assert len(queue) == 4
    tasks = queue.lease_tasks(20, 1000, tag="task")
    assert [t["payload"]["n"] for t in tasks] == [0, 1, 2]
    assert all(t["retry_count"] == 1 for t in tasks)
    failed, *done = tasks
    queue.update_task(failed["id"], 1)
    for task in done:
        queue.delete_task(task["id"])
        queue.create_task({"kind": "result#document", "for": task["id"]}, tag="result")
    assert len(queue) == 4
    listed = queue.list_tasks()  # list's kind and payloads, as the first emulator answered
    assert {t["payload"]["kind"] for t in listed} == {"task#render", "other", "result#document"}


def test_timestamps_are_json_numbers_for_the_daemons_arithmetic(render_app):
    web = render_app.test_client()
    path = "/taskqueue/v1beta2/projects/b~render-app/taskqueues/render_queue/tasks"
    task = web.post(path, json={"payloadBase64": encode({"kind": "task#render"})}).get_json()
    assert isinstance(task["enqueueTimestamp"], int) and task["leaseTimestamp"] == 0
    (leased,) = web.post(path + "/lease?numTasks=1&leaseSecs=60").get_json()["items"]
    assert leased["leaseTimestamp"] - task["enqueueTimestamp"] > 59_000_000
    stats = web.get("/taskqueue/v1beta2/projects/render-app/taskqueues/render_queue?getStats=true").get_json()["stats"]
    assert isinstance(stats["oldestTask"], int) and 0 < stats["oldestTask"] <= task["enqueueTimestamp"] // 10**6
    assert stats["leasedLastMinute"] == 1


def test_empty_lease_and_list_keep_an_items_list(render_app):
    """The daemon reads result["items"] unguarded: the first emulator always sent it."""
    web = render_app.test_client()
    base = "/taskqueue/v1beta2/projects/render-app/taskqueues/idle"
    assert web.post(base + "/tasks/lease?numTasks=5&leaseSecs=60").get_json() == {"kind": "taskqueue#tasks", "items": []}
    assert web.get(base + "/tasks").get_json() == {"kind": "taskqueue#tasks", "items": []}


def test_discovery_is_served_at_the_first_emulators_path_always(client):
    r = client.get("/api/taskqueue/v1beta2")
    assert r.status_code == 200
    assert r.get_json()["id"] == "taskqueue:v1beta2"
    expect_json_error(client.get("/api/taskqueue/v9"), 404, "notFound")


def test_without_the_setting_google_behaviour_wins(client):
    base = "/taskqueue/v1beta2/projects/render-app/taskqueues/"
    expect_json_error(client.get(base + "render_queue/tasks"), 400, "invalid", "queue name")
    client.post(base + "google/tasks", json={"payloadBase64": encode({"kind": "x"})})
    listed = client.get(base + "google/tasks").get_json()
    assert listed["kind"] == "taskqueues#tasks" and "payloadBase64" not in listed["items"][0]
    assert isinstance(listed["items"][0]["enqueueTimestamp"], str)


def test_an_unknown_compat_value_is_one_clear_line():
    with pytest.raises(SystemExit) as info:
        Settings.from_env({"TASKQUEUE_COMPAT": "rendr"})
    assert "TASKQUEUE_COMPAT must be 'render' or unset, not 'rendr'" in str(info.value)


def test_the_render_compat_keeps_google_names_long_on_lease(render_app):
    queue = QueueHandler(render_app, "render_queue")
    queue.create_task({"kind": "task#render"})
    (task,) = queue.lease_tasks(1, 60)
    assert task["queueName"] == f"projects/b~{PROJECT}/taskqueues/render_queue"
    with pytest.raises(HttpError):
        queue.api.tasks().insert(project=PROJECT, taskqueue="render_queue",
                                 body={"id": task["id"], "payloadBase64": "eA=="}).execute()
