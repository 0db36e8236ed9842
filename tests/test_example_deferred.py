"""The deferred example (examples/deferred) as its README runs it, each piece a real process: Redis,
the service's gunicorn command with the example's queue.yaml, the example Flask app under gunicorn;
the producer defers work through google-cloud-tasks from this process."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
import requests
from google.api_core import exceptions

from harness.servers import REPO, free_port, gunicorn_on, wait_until

EXAMPLE = REPO / "examples" / "deferred"
DB = 13


@pytest.fixture(scope="module")
def example_app(redis_server):
    """The example app under gunicorn, from its own folder, on a free port (`.log` has its output),
    and the service sending App Engine tasks to it; the two start side by side."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="qs-example-app-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
                             "--threads", "4", "app:app"], cwd=EXAMPLE, stdout=log, stderr=log)
    app = SimpleNamespace(url=f"http://127.0.0.1:{port}", log=Path(log.name), service=None)
    try:
        redis.Redis.from_url(redis_server.url.rsplit("/", 1)[0] + f"/{DB}").flushdb()
        app.service = gunicorn_on(redis_server, DB, APP_ENGINE_URL=app.url, QUEUE_CONFIG=str(EXAMPLE / "queue.yaml"))
        wait_until(lambda: requests.get(app.url + "/", timeout=1).status_code == 404, timeout=15,
                   what="the example app")
        yield app
    finally:
        if app.service:
            app.service.stop()
        proc.terminate()
        proc.wait(10)
        os.unlink(log.name)


@pytest.fixture(scope="module")
def service(example_app):
    return example_app.service


@pytest.fixture(scope="module")
def producer(service):
    """The example's producer module, pointed at the service as its README says."""
    sys.path.append(str(EXAMPLE))
    saved = os.environ.get("CLOUD_TASKS_EMULATOR_HOST")
    os.environ["CLOUD_TASKS_EMULATOR_HOST"] = service.url.removeprefix("http://")
    try:
        import producer

        producer.client.cache_clear()
        yield producer
        producer.client().transport.close()
    finally:
        if saved is None:
            os.environ.pop("CLOUD_TASKS_EMULATOR_HOST", None)
        else:
            os.environ["CLOUD_TASKS_EMULATOR_HOST"] = saved
        sys.path.remove(str(EXAMPLE))
        for name in ("producer", "jobs", "app"):  # the example's top-level modules
            sys.modules.pop(name, None)


@pytest.fixture
def jobs(producer):
    import jobs

    return jobs


def lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def gone(producer, name: str) -> bool:
    try:
        producer.client().get_task(name=name)
    except exceptions.NotFound:
        return True
    return False


def test_deferred_work_runs_in_the_app_with_the_app_engine_headers(producer, jobs, tmp_path):
    note = tmp_path / "note.json"
    task = producer.defer(jobs.write_note, str(note), "hello", _name="note-1")
    assert task.name == producer.queue_path("default") + "/tasks/note-1"
    wait_until(note.exists, timeout=10, what="the deferred function")
    written = json.loads(note.read_text())
    assert written["text"] == "hello"
    seen = written["task"]
    assert (seen["QueueName"], seen["TaskName"], seen["TaskRetryCount"], seen["TaskExecutionCount"]) == \
        ("default", "note-1", "0", "0")
    assert abs(float(seen["TaskETA"]) - time.time()) < 30
    with pytest.raises(exceptions.Conflict):
        producer.defer(jobs.write_note, str(note), "again", _name="note-1")


def test_a_request_without_the_task_name_header_is_refused(example_app, jobs, tmp_path):
    note = tmp_path / "forged.json"
    r = requests.post(example_app.url + "/_ah/queue/deferred", timeout=10,
                      data=pickle.dumps((jobs.write_note, (str(note), "forged"), {})),
                      headers={"Content-Type": "application/octet-stream", "X-AppEngine-QueueName": "default"})
    assert r.status_code == 403 and not note.exists()
    assert requests.get(example_app.url + "/_ah/queue/deferred", timeout=10).status_code == 405


def test_a_failing_function_is_retried_on_the_queue_yaml_schedule(producer, jobs, service, tmp_path):
    queue = producer.client().get_queue(name=producer.queue_path("default"))
    assert queue.retry_config.max_attempts == 4 and queue.retry_config.min_backoff.seconds == 10
    attempts = tmp_path / "attempts.jsonl"
    task = producer.defer(jobs.fail_first, str(attempts), 1)
    wait_until(lambda: len(lines(attempts)) == 1, timeout=10, what="the first attempt")
    # The service records the 500 (and sets the retry 10 s ahead) once the answer is back.
    wait_until(lambda: producer.client().get_task(name=task.name).response_count == 1, timeout=10,
               what="the failed attempt to be recorded")
    assert len(lines(attempts)) == 1
    requests.post(service.url + "/admin/v1/clock/advance?seconds=10", timeout=10).raise_for_status()
    wait_until(lambda: len(lines(attempts)) == 2, timeout=10, what="the retry")
    first, retry = lines(attempts)
    assert first["TaskRetryCount"] == "0" and "TaskPreviousResponse" not in first
    assert (retry["TaskRetryCount"], retry["TaskExecutionCount"], retry["TaskPreviousResponse"],
            retry["TaskRetryReason"]) == ("1", "1", "500", "App Error")
    wait_until(lambda: gone(producer, task.name), timeout=10, what="the task to be done")


def test_a_permanent_failure_is_dropped_not_retried(producer, jobs, example_app, tmp_path):
    attempts = tmp_path / "attempts.jsonl"
    task = producer.defer(jobs.give_up, str(attempts))
    # Answered 200: the task is deleted after its one attempt, not kept for a retry.
    wait_until(lambda: gone(producer, task.name), timeout=10, what="the task to be dropped")
    assert len(lines(attempts)) == 1
    assert "PermanentTaskFailure: nothing to do for " + str(attempts) in example_app.log.read_text()


def test_an_http_task_reaches_the_app_with_cloud_tasks_headers(producer, example_app):
    task = producer.create_http_task(example_app.url + "/tasks/welcome", {"user": "alice"})
    task_id = task.name.rsplit("/", 1)[1]
    wait_until(lambda: f"welcome alice (HTTP task {task_id} of queue default, retry 0)" in example_app.log.read_text(),
               timeout=10, what="the HTTP task")


def test_queue_yaml_push_queues_exist_in_any_project_for_every_method(service):
    """A queue of queue.yaml is made on first use by whatever method names it, not only CreateTask
    (here batchCreate, IAM, purge), with the settings `gcloud app deploy` would give it."""
    base = f"{service.url}/v2/projects/other-app/locations/europe-west1/queues"
    made = requests.post(f"{base}/run-in-order/tasks:batchCreate", timeout=10, json={"requests": [
        {"task": {"httpRequest": {"url": "http://127.0.0.1:9/"}, "scheduleTime": "2099-01-01T00:00:00Z"}}]})
    assert made.status_code in (200, 400), made.text   # a schedule past 30 days fails per task, not the call
    queue = requests.get(f"{base}/run-in-order", timeout=10).json()
    assert queue["rateLimits"]["maxConcurrentDispatches"] == 1 and queue["rateLimits"]["maxDispatchesPerSecond"] == 5
    assert requests.post(f"{base}/push-notifications:getIamPolicy", json={}, timeout=10).status_code == 200
    purged = requests.post(f"{base}/default:purge", json={}, timeout=10).json()
    assert purged["retryConfig"]["maxAttempts"] == 4 and "purgeTime" in purged
    assert requests.get(f"{base}/not-configured", timeout=10).status_code == 404
