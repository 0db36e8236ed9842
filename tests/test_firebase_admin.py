"""firebase-admin's task queues against the server, as its CLOUD_TASKS_EMULATOR_HOST convention
has them talk to an emulator (guide 4.7): enqueue and delete, and the task reaching the function."""

from __future__ import annotations

import base64
import json

import firebase_admin
import pytest
import requests
from firebase_admin import functions

from harness.servers import gunicorn_on


@pytest.fixture(scope="module")
def server(redis_server, receiver):
    web = gunicorn_on(redis_server, 14, FIREBASE_FUNCTIONS_URL=receiver.url + "/functions")
    yield web
    web.stop()


@pytest.fixture
def app(server, monkeypatch):
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", server.url.removeprefix("http://"))
    app = firebase_admin.initialize_app(options={"projectId": "demo-fb"}, name="queueservice-test")
    yield app
    firebase_admin.delete_app(app)


def test_enqueue_reaches_the_function_in_the_functions_emulator(app, server, receiver):
    queue = functions.task_queue("resize-image", app=app)
    task_id = queue.enqueue({"image": "cat.png"})
    assert task_id.isdigit()
    (method, path, headers, body), = receiver.wait_for(1)
    assert (method, path) == ("POST", "/functions/demo-fb/us-central1/resize-image")
    assert json.loads(body) == {"image": "cat.png"}   # the body as firebase-admin 7.7 wrote it, sent as is
    assert headers["Content-Type"] == "application/json" and headers["X-Cloudtasks-Taskname"] == task_id
    assert headers["Authorization"].startswith("Bearer ")   # the emulated service account's OIDC token
    # The queue exists now, as deploying the function would have made it.
    got = requests.get(f"{server.url}/v2/projects/demo-fb/locations/us-central1/queues/resize-image", timeout=10)
    assert got.status_code == 200 and got.json()["state"] == "RUNNING"


def test_a_named_scheduled_task_can_be_deleted_and_its_name_stays_taken(app, server, receiver):
    queue = functions.task_queue("locations/europe-west1/functions/nightly", app=app)
    options = functions.TaskOptions(schedule_delay_seconds=3600, task_id="report-1",
                                    uri=receiver.url + "/explicit", headers={"X-Kind": "report"})
    assert queue.enqueue({"n": 1}, options) == "report-1"
    name = "projects/demo-fb/locations/europe-west1/queues/nightly/tasks/report-1"
    stored = requests.get(f"{server.url}/v2/{name}", timeout=10).json()
    assert stored["httpRequest"]["url"] == receiver.url + "/explicit"
    assert stored["httpRequest"]["headers"]["X-Kind"] == "report" and stored["scheduleTime"] > "2000"
    queue.delete("report-1")
    assert requests.get(f"{server.url}/v2/{name}", timeout=10).status_code == 404
    with pytest.raises(firebase_admin.exceptions.AlreadyExistsError):
        queue.enqueue({"n": 2}, functions.TaskOptions(task_id="report-1"))
    with pytest.raises(firebase_admin.exceptions.NotFoundError):
        queue.delete("never-made")


def test_the_emulator_answer_carries_the_task_under_task_with_a_leading_slash(server):
    url = f"{server.url}/projects/demo-fb/locations/us-central1/queues/raw/tasks"
    body = {"task": {"httpRequest": {"url": "", "body": base64.b64encode(b'{"data": 1}').decode(),
                                     "headers": {"Content-Type": "application/json"}},
                     "scheduleTime": "2099-01-01T00:00:00.000000Z"}}
    answer = requests.post(url, json=body, headers={"X-GOOG-API-FORMAT-VERSION": "2"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["status"] == "INVALID_ARGUMENT"  # past 30 days
    del body["task"]["scheduleTime"]
    answer = requests.post(url, json=body, timeout=10).json()
    assert answer["task"]["name"].startswith("/projects/demo-fb/locations/us-central1/queues/raw/tasks/")
