"""Defers work to the example app through `google-cloud-tasks`, as The Blue Alliance's `defer` does:
each call pickles `(callable, args, kwargs)` into an App Engine task for `/_ah/queue/deferred`.

With CLOUD_TASKS_EMULATOR_HOST set (`localhost:8080`, the variable firebase-admin reads too), the
client talks to queueservice over REST with no credentials; unset, it is the production client.

    CLOUD_TASKS_EMULATOR_HOST=localhost:8080 python producer.py
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import pickle
import sys

from google.auth.credentials import AnonymousCredentials
from google.cloud import tasks_v2

PROJECT = os.environ.get("GOOGLE_CLOUD_PROJECT", "my-app")
LOCATION = os.environ.get("CLOUD_TASKS_LOCATION", "us-central1")
#: The App Engine service the tasks go to; App Engine sets GAE_SERVICE to the calling service.
SERVICE = os.environ.get("GAE_SERVICE", "default")


@functools.cache
def client() -> tasks_v2.CloudTasksClient:
    host = os.environ.get("CLOUD_TASKS_EMULATOR_HOST")
    if not host:
        return tasks_v2.CloudTasksClient()  # production: gRPC, application default credentials
    # queueservice serves REST (not gRPC); with no scheme the client would use https.
    return tasks_v2.CloudTasksClient(transport="rest", client_options={"api_endpoint": f"http://{host}"},
                                     credentials=AnonymousCredentials())


def queue_path(queue: str) -> str:
    return client().queue_path(PROJECT, LOCATION, queue)


def _schedule(task: dict, queue: str, countdown: float | None, name: str | None) -> dict:
    if countdown:
        task["schedule_time"] = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=countdown)
    if name:
        task["name"] = f"{queue_path(queue)}/tasks/{name}"
    return task


def defer(fn, *args, _queue: str = "default", _countdown: float | None = None, _name: str | None = None,
          **kwargs) -> tasks_v2.Task:
    """Run `fn(*args, **kwargs)` later in the app's `/_ah/queue/deferred` handler; the created task.

    `fn` must be importable by the app under the same module and name. `_countdown` delays the
    first attempt by that many seconds; `_name` names the task (a name is used once: a second task
    of that name is refused with `google.api_core.exceptions.Conflict`).
    """
    task = {"app_engine_http_request": {
        "http_method": tasks_v2.HttpMethod.POST,
        "relative_uri": "/_ah/queue/deferred",
        "app_engine_routing": {"service": SERVICE},
        "headers": {"Content-Type": "application/octet-stream"},
        "body": pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL),
    }}
    return client().create_task(parent=queue_path(_queue), task=_schedule(task, _queue, _countdown, _name))


def create_http_task(url: str, payload: dict, *, queue: str = "default", countdown: float | None = None,
                     name: str | None = None) -> tasks_v2.Task:
    """An HTTP-target task: POST `payload` as JSON to `url` (any URL, not only the App Engine app)."""
    task = {"http_request": {
        "http_method": tasks_v2.HttpMethod.POST,
        "url": url,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload).encode(),
    }}
    return client().create_task(parent=queue_path(queue), task=_schedule(task, queue, countdown, name))


def main() -> None:
    import jobs

    note = sys.argv[1] if len(sys.argv) > 1 else "deferred-note.json"
    app_url = os.environ.get("APP_URL", "http://localhost:8081")
    print("deferred", defer(jobs.write_note, os.path.abspath(note), "hello from the producer").name)
    print("deferred", defer(jobs.fail_first, os.path.abspath(note) + ".attempts", 1).name,
          "(fails once, then is retried)")
    print("created ", create_http_task(app_url + "/tasks/welcome", {"user": "alice"}).name)


if __name__ == "__main__":
    main()
