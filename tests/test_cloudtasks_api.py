"""Cloud Tasks v2 through the official clients against gunicorn, dispatching to a real receiver:
`google-cloud-tasks` over REST and `googleapiclient` built from Google's bundled document."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.protobuf import duration_pb2

from harness.servers import gunicorn_on
from tests.helpers import tasks_client

PARENT = "projects/demo/locations/us-central1"


@pytest.fixture(scope="module")
def server(redis_server, receiver):
    web = gunicorn_on(redis_server, 11, APP_ENGINE_URL=receiver.url)
    yield web
    web.stop()


@pytest.fixture(scope="module")
def client(server):
    return tasks_client(server.url)


@pytest.fixture
def queue(client, request):
    name = f"{PARENT}/queues/{request.node.name.replace('_', '-')[:60]}"
    client.create_queue(parent=PARENT, queue={"name": name, "retry_config": {"min_backoff": duration_pb2.Duration(nanos=50_000_000),
                                                                             "max_backoff": duration_pb2.Duration(nanos=200_000_000)}})
    return name


def test_the_seed_queue_is_created_with_the_gcloud_flags_and_reads_back(client):
    name = f"{PARENT}/queues/seed"
    client.create_queue(parent=PARENT, queue={
        "name": name, "rate_limits": {"max_dispatches_per_second": 5, "max_concurrent_dispatches": 1},
        "retry_config": {"max_attempts": -1, "max_retry_duration": duration_pb2.Duration(seconds=3600),
                         "min_backoff": duration_pb2.Duration(seconds=10), "max_backoff": duration_pb2.Duration(seconds=30)}})
    got = client.get_queue(name=name)
    assert got.rate_limits.max_dispatches_per_second == 5 and got.rate_limits.max_concurrent_dispatches == 1
    assert got.retry_config.max_attempts == -1 and got.retry_config.max_doublings == 16
    assert got.retry_config.min_backoff.seconds == 10 and got.retry_config.max_retry_duration.seconds == 3600
    assert got.state == tasks_v2.Queue.State.RUNNING
    with pytest.raises(exceptions.Conflict):
        client.create_queue(parent=PARENT, queue={"name": name})


def test_an_unknown_queue_is_not_found(client):
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=f"{PARENT}/queues/none")


def test_an_http_task_is_delivered_once_and_then_gone(client, queue, receiver):
    task = client.create_task(parent=queue, task={"http_request": {"url": receiver.url + "/deliver", "body": b"hello",
                                                                   "http_method": tasks_v2.HttpMethod.POST}})
    assert task.name.startswith(queue + "/tasks/") and task.name.rsplit("/", 1)[1].isdigit()
    deadline = time.monotonic() + 10
    while not any(p == "/deliver" for _, p, _, _ in receiver.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    (hit,) = [r for r in receiver.requests if r[1] == "/deliver"]
    assert hit[3] == b"hello" and hit[2]["X-Cloudtasks-Taskname"] == task.name.rsplit("/", 1)[1]
    time.sleep(0.3)
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=task.name)


def test_an_app_engine_task_reaches_the_local_app_with_app_engine_headers(client, queue, receiver):
    client.create_task(parent=queue, task={"name": queue + "/tasks/deferred-1", "app_engine_http_request": {
        "relative_uri": "/_ah/queue/deferred", "body": b"\x80\x04data",
        "app_engine_routing": {"service": "default"}}})
    deadline = time.monotonic() + 10
    while not any(p == "/_ah/queue/deferred" for _, p, _, _ in receiver.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    (hit,) = [r for r in receiver.requests if r[1] == "/_ah/queue/deferred"]
    assert hit[2]["X-Appengine-Taskname"] == "deferred-1" and hit[2]["X-Appengine-Queuename"] == queue.rsplit("/", 1)[1]
    assert hit[2]["Content-Type"] == "application/octet-stream" and hit[3] == b"\x80\x04data"


def test_a_paused_queue_holds_tasks_that_run_task_sends_at_once(client, queue, receiver):
    client.pause_queue(name=queue)
    task = client.create_task(parent=queue, task={"http_request": {"url": receiver.url + "/paused"}})
    time.sleep(1.2)
    assert not [r for r in receiver.requests if r[1] == "/paused"]
    ran = client.run_task(name=task.name)
    assert ran.dispatch_count == 1
    deadline = time.monotonic() + 10
    while not [r for r in receiver.requests if r[1] == "/paused"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len([r for r in receiver.requests if r[1] == "/paused"]) == 1
    assert client.resume_queue(name=queue).state == tasks_v2.Queue.State.RUNNING


def test_a_named_task_is_deduplicated_and_a_deleted_one_never_fires(client, queue, receiver):
    later = {"seconds": int(time.time()) + 3600}
    task = client.create_task(parent=queue, task={"name": queue + "/tasks/once", "schedule_time": later,
                                                  "http_request": {"url": receiver.url + "/never"}})
    with pytest.raises(exceptions.Conflict):
        client.create_task(parent=queue, task={"name": queue + "/tasks/once", "http_request": {"url": receiver.url}})
    assert [t.name for t in client.list_tasks(parent=queue)] == [task.name]
    client.delete_task(name=task.name)
    with pytest.raises(exceptions.NotFound, match="existed recently"):
        client.get_task(name=task.name)
    with pytest.raises(exceptions.Conflict):
        client.create_task(parent=queue, task={"name": queue + "/tasks/once", "http_request": {"url": receiver.url}})


def test_an_update_mask_changes_one_field_and_a_missing_queue_is_created(client):
    name = f"{PARENT}/queues/patched"
    queue = client.update_queue(queue={"name": name, "rate_limits": {"max_dispatches_per_second": 7}},
                                update_mask={"paths": ["rate_limits.max_dispatches_per_second"]})
    assert queue.rate_limits.max_dispatches_per_second == 7 and queue.retry_config.max_attempts == 100
    listed = [q.name for q in client.list_queues(parent=PARENT)]
    assert name in listed and listed == sorted(listed)


def test_errors_are_googles_v2_body(server):
    import requests

    r = requests.get(f"{server.url}/v2/{PARENT}/queues/none", timeout=10)
    assert r.status_code == 404
    assert r.json()["error"]["status"] == "NOT_FOUND" and "wait at least a minute" in r.json()["error"]["message"]


def test_googleapiclient_from_the_bundled_document(server):
    import httplib2
    from googleapiclient.discovery import build

    api = build("cloudtasks", "v2", http=httplib2.Http(), client_options={"api_endpoint": server.url})
    created = api.projects().locations().queues().create(
        parent=PARENT, body={"name": f"{PARENT}/queues/gac"}).execute()
    assert created["retryConfig"]["minBackoff"] == "0.100s" and created["state"] == "RUNNING"
    assert api.projects().locations().queues().delete(name=created["name"]).execute() == {}


def test_queue_yaml_push_queues_exist_in_any_project_and_location(tmp_path, app_redis):
    from queueservice.config import Settings
    from queueservice.engine.app import create_app

    path = tmp_path / "queue.yaml"
    path.write_text("queue:\n- name: push-notifications\n  rate: 10/s\n  bucket_size: 20\n"
                    "  retry_parameters:\n    task_retry_limit: 0\n    task_age_limit: 3m\n"
                    "    min_backoff_seconds: 10\n    max_backoff_seconds: 30\n"
                    "- name: render\n  mode: pull\n")
    app = create_app(Settings(redis_url="redis://unused", log_level="WARNING", queue_config=str(path)),
                     redis_client=app_redis)
    web = app.test_client()
    got = web.get("/v2/projects/any/locations/europe-west1/queues/push-notifications").get_json()
    assert got["rateLimits"] == {"maxDispatchesPerSecond": 10.0, "maxBurstSize": 20, "maxConcurrentDispatches": 1000}
    assert got["retryConfig"]["maxAttempts"] == 1 and got["retryConfig"]["maxRetryDuration"] == "180s"
    created = web.post("/v2/projects/other/locations/us-central1/queues/push-notifications/tasks",
                       json={"task": {"httpRequest": {"url": "http://127.0.0.1:9/x"}}})
    assert created.status_code == 200
    assert web.get("/v2/projects/any/locations/l/queues/render").status_code == 404  # a pull queue


def test_a_bad_push_queue_in_queue_yaml_stops_start_up(tmp_path, app_redis):
    from queueservice.config import Settings
    from queueservice.engine.app import create_app
    from queueservice.errors import StartupError

    path = tmp_path / "queue.yaml"
    path.write_text("queue:\n- name: fast\n  rate: 900/s\n")
    with pytest.raises(StartupError, match="over 500"):
        create_app(Settings(redis_url="redis://unused", log_level="WARNING", queue_config=str(path)),
                   redis_client=app_redis)


def test_an_oidc_task_carries_a_token_the_handler_verifies_with_the_published_certs(client, queue, receiver, server):
    import google.auth.transport.requests
    import requests as requests_lib
    from google.oauth2 import id_token

    url = receiver.url + "/secured"
    client.create_task(parent=queue, task={"http_request": {
        "url": url, "oidc_token": {"service_account_email": "tasks@demo.iam.gserviceaccount.com"}}})
    deadline = time.monotonic() + 10
    while not [r for r in receiver.requests if r[1] == "/secured"] and time.monotonic() < deadline:
        time.sleep(0.05)
    (hit,) = [r for r in receiver.requests if r[1] == "/secured"]
    token = hit[2]["Authorization"].removeprefix("Bearer ")
    claims = id_token.verify_token(token, google.auth.transport.requests.Request(), audience=url,
                                   certs_url=server.url + "/oauth2/v1/certs")
    assert claims["email"] == "tasks@demo.iam.gserviceaccount.com" and claims["aud"] == url
    discovery = requests_lib.get(server.url + "/.well-known/openid-configuration", timeout=10).json()
    assert discovery["jwks_uri"].endswith("/oauth2/v3/certs")
    assert requests_lib.get(server.url + "/oauth2/v3/certs", timeout=10).json()["keys"][0]["kty"] == "RSA"


def test_push_queues_appear_in_the_admin_api_dashboard_and_metrics(client, server):
    import requests as requests_lib

    name = f"{PARENT}/queues/seen"
    client.create_queue(parent=PARENT, queue={"name": name})
    client.pause_queue(name=name)
    client.create_task(parent=name, task={"name": name + "/tasks/waiting", "http_request": {"url": "http://127.0.0.1:9/"}})
    listed = requests_lib.get(server.url + "/admin/v1/queues", timeout=10).json()["items"]
    (mine,) = [q for q in listed if q["api"] == "cloudtasks" and q["queue"] == "us-central1:seen"]
    assert (mine["project"], mine["scheduled"], mine["running"], mine["queueState"]) == ("demo", 1, 0, "PAUSED")
    tasks = requests_lib.get(server.url + "/admin/v1/projects/demo/queues/us-central1:seen/tasks?api=cloudtasks",
                             timeout=10).json()
    assert [t["id"] for t in tasks["items"]] == ["waiting"]
    page = requests_lib.get(server.url + "/dashboard/q/demo/us-central1:seen?api=cloudtasks", timeout=10).text
    assert "waiting" in page and "running" in page
    metrics = requests_lib.get(server.url + "/metrics", timeout=10).text
    assert 'queueservice_tasks{api="cloudtasks",project="demo",queue="us-central1:seen",state="scheduled"} 1.0' in metrics


def test_batch_create_and_delete_report_through_an_operation(client, server):
    import requests as requests_lib

    name = f"{PARENT}/queues/batched"
    client.create_queue(parent=PARENT, queue={"name": name})
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    body = {"requests": [{"task": {"name": f"{name}/tasks/b1", "scheduleTime": later,
                                   "httpRequest": {"url": "http://127.0.0.1:9/", "body": "aGk="}}},
                         {"task": {"name": f"{name}/tasks/bad id", "httpRequest": {"url": "http://127.0.0.1:9/"}}}]}
    op = requests_lib.post(f"{server.url}/v2/{name}/tasks:batchCreate", json=body, timeout=10).json()
    assert op["done"] and op["metadata"]["state"] == "PARTIALLY_SUCCEEDED"
    assert op["metadata"]["failedRequests"]["1"]["code"] == 3
    (created,) = op["response"]["tasks"]
    assert created["name"] == f"{name}/tasks/b1" and created["dispatchDeadline"] == "600s"
    assert created["scheduleTime"] == later and created["httpRequest"]["body"] == "aGk="
    assert op["metadata"]["startTime"].endswith("Z")
    assert requests_lib.get(f"{server.url}/v2/{op['name']}", timeout=10).json() == op
    gone = requests_lib.post(f"{server.url}/v2/{name}/tasks:batchDelete",
                             json={"names": [f"{name}/tasks/b1", f"{name}/tasks/none"]}, timeout=10).json()
    assert list(gone["metadata"]["failedRequests"]) == ["1"]
    assert not list(client.list_tasks(parent=name))


GCLOUD = shutil.which("gcloud")


@pytest.mark.skipif(GCLOUD is None, reason="gcloud (Debian's google-cloud-cli) is not installed on this machine")
def test_gcloud_creates_the_seed_queue_and_an_http_task_through_the_endpoint_override(server, receiver, tmp_path):
    env = {**os.environ, "CLOUDSDK_CONFIG": str(tmp_path), "CLOUDSDK_CORE_PROJECT": "demo",
           "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDTASKS": server.url + "/",
           "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true", "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
           "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true"}

    def gcloud(*args):
        done = subprocess.run([GCLOUD, *args, "--location", "us-central1", "--format", "json"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout or "null")

    gcloud("tasks", "queues", "create", "gcloud-seed", "--max-dispatches-per-second", "5", "--max-attempts", "-1",
           "--max-retry-duration", "3600s", "--min-backoff=10s", "--max-backoff=30s", "--max-concurrent-dispatches", "1")
    described = gcloud("tasks", "queues", "describe", "gcloud-seed")
    assert described["rateLimits"] == {"maxBurstSize": 5, "maxConcurrentDispatches": 1, "maxDispatchesPerSecond": 5.0}
    assert described["retryConfig"] == {"maxAttempts": -1, "maxBackoff": "30s", "maxDoublings": 16,
                                        "maxRetryDuration": "3600s", "minBackoff": "10s"}
    gcloud("tasks", "create-http-task", "--queue", "gcloud-seed", "--url", receiver.url + "/from-gcloud",
           "--method", "PUT", "--body-content", "hi")
    deadline = time.monotonic() + 10
    while "/from-gcloud" not in [p for _, p, _, _ in receiver.requests] and time.monotonic() < deadline:
        time.sleep(0.05)
    (hit,) = [r for r in receiver.requests if r[1] == "/from-gcloud"]
    assert hit[0] == "PUT" and hit[3] == b"hi"
