"""Real clients over real HTTP: googleapiclient and plain requests against gunicorn on Redis."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid

import httplib2
import pytest
import requests
from googleapiclient.discovery import build, build_from_document
from googleapiclient.errors import HttpError

from tests.helpers import b64, expect_json_error
from harness.servers import REPO, free_port, wait_until

GOOGLE_DOC = REPO / "tests" / "fixtures" / "google_taskqueue_v1beta2.json"


@pytest.fixture
def queue():
    return "http-" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def discovered(gunicorn_server):
    url = gunicorn_server.url + "/discovery/v1/apis/{api}/{apiVersion}/rest"
    return build("taskqueue", "v1beta2", discoveryServiceUrl=url, static_discovery=False)


def _cycle(service, queue, project="s~web-app"):
    inserted = service.tasks().insert(project=project, taskqueue=queue,
                                      body={"queueName": queue, "payloadBase64": b64(b"over http"),
                                            "tag": "t"}).execute()
    leased = service.tasks().lease(project=project, taskqueue=queue, numTasks=10, leaseSecs=60).execute()
    assert [t["id"] for t in leased["items"]] == [inserted["id"]]
    assert base64.b64decode(leased["items"][0]["payloadBase64"]) == b"over http"
    service.tasks().patch(project=project, taskqueue=queue, task=inserted["id"], newLeaseSeconds=120,
                          body={"queueName": queue}).execute()
    service.tasks().delete(project=project, taskqueue=queue, task=inserted["id"]).execute()
    stats = service.taskqueues().get(project=project, taskqueue=queue, getStats=True).execute()
    assert stats["stats"]["totalTasks"] == 0


def test_build_by_discovery_from_the_server_runs_a_full_cycle(discovered, queue):
    _cycle(discovered, queue)


@pytest.mark.parametrize("endpoint", ["{url}/taskqueue/v1beta2/projects/", "{url}/"])
def test_client_from_googles_own_document_works_unchanged(gunicorn_server, queue, endpoint):
    service = build_from_document(GOOGLE_DOC.read_text(), http=httplib2.Http(),
                                  client_options={"api_endpoint": endpoint.format(url=gunicorn_server.url)})
    _cycle(service, queue)


def test_errors_reach_the_client_in_googles_format(discovered, queue):
    with pytest.raises(HttpError) as info:
        discovered.tasks().get(project="app", taskqueue=queue, task="missing").execute()
    assert info.value.resp.status == 404
    assert info.value.error_details[0]["reason"] == "notFound"


def test_fields_through_the_client(discovered, queue):
    discovered.tasks().insert(project="app", taskqueue=queue,
                              body={"payloadBase64": b64(b"x"), "tag": "keep"}).execute()
    listed = discovered.tasks().list(project="app", taskqueue=queue, fields="items(tag)").execute()
    assert listed == {"items": [{"tag": "keep"}]}


def test_batch_of_inserts_and_a_failing_get(discovered, queue):
    answers = {}

    def collect(request_id, response, exception):
        answers[request_id] = (response, exception)

    batch = discovered.new_batch_http_request(callback=collect)
    for i in range(3):
        batch.add(discovered.tasks().insert(project="app", taskqueue=queue,
                                            body={"id": f"b{i}", "payloadBase64": b64(b"%d" % i)}),
                  request_id=f"r{i}")
    batch.add(discovered.tasks().get(project="app", taskqueue=queue, task="nope"), request_id="bad")
    batch.execute()
    assert [answers[f"r{i}"][0]["id"] for i in range(3)] == ["b0", "b1", "b2"]
    assert answers["bad"][1].resp.status == 404
    listed = discovered.tasks().list(project="app", taskqueue=queue).execute()
    assert [t["id"] for t in listed["items"]] == ["b0", "b1", "b2"]


def test_batch_that_is_not_multipart_is_400(gunicorn_server):
    r = requests.post(gunicorn_server.url + "/batch", data="{}", headers={"Content-Type": "application/json"})
    expect_json_error(r, 400, "invalid", "multipart")


def test_plain_rest_calls_as_in_the_readme(gunicorn_server, queue):
    base = f"{gunicorn_server.url}/taskqueue/v1beta2/projects/my-app/taskqueues/{queue}"
    r = requests.post(base + "/tasks", json={"payloadBase64": b64(b"hi"), "tag": "demo"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    r = requests.post(base + "/tasks/lease", params={"numTasks": 1, "leaseSecs": 30})
    assert r.json()["items"][0]["tag"] == "demo"
    expect_json_error(requests.post(base + "/tasks/lease", params={"numTasks": 1}), 400, "required", "leaseSecs")


def test_unknown_route_over_http_is_json_404(gunicorn_server):
    r = requests.get(gunicorn_server.url + "/taskqueue/v1beta2/nothing")
    expect_json_error(r, 404, "notFound")


def test_healthz_reports_redis_and_each_service(gunicorn_server):
    body = requests.get(gunicorn_server.url + "/healthz").json()
    assert (body["status"], body["store"]) == ("ok", "redis")
    assert body["services"]["pullqueue"]["status"] == "ok"
    assert isinstance(body["services"]["pullqueue"]["queues"], int)


def test_python_m_queueservice_serves_the_embedded_store(tmp_path):
    """The README's run command with REDIS_URL unset: embedded store, googleapiclient works."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(PORT=str(port), LOG_LEVEL="INFO")
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "queueservice"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(url + "/healthz", timeout=1).ok, timeout=30, what="python -m queueservice")
        service = build("taskqueue", "v1beta2", static_discovery=False,
                        discoveryServiceUrl=url + "/discovery/v1/apis/{api}/{apiVersion}/rest")
        _cycle(service, "embedded")
        assert requests.get(url + "/healthz").json()["store"] == "embedded"
    finally:
        proc.terminate()
        proc.wait(20)
    log.seek(0)
    assert "embedded" in log.read()


def test_discovery_document_over_http_names_the_server(gunicorn_server):
    doc = requests.get(gunicorn_server.url + "/discovery/v1/apis/taskqueue/v1beta2/rest").json()
    assert doc["rootUrl"] == gunicorn_server.url + "/"
    assert json.dumps(doc).count("googleapis.com") == 0
