"""What real TaskQueue clients in Go, Java and Python need of the wire, as Google answered it.

Each behaviour is checked through googleapiclient (built from our discovery and from Google's
document) and over raw HTTP; a Go program decodes live answers as Google's generated Go client
does, and a decoder written here applies the same rule by Google's document for every answer.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httplib2
import pytest
import requests
from googleapiclient.discovery import build, build_from_document

from tests.helpers import advance_clock, b64, expect_error, expect_json_error, insert, lease

REPO = Path(__file__).resolve().parent.parent
GOOGLE_DOC = REPO / "tests" / "fixtures" / "google_taskqueue_v1beta2.json"
GO_CLIENT = REPO / "tests" / "go_client" / "main.go"


# --- a decoder with the generated clients' rule --------------------------------------------

def strict_decode(value, schema: str, schemas: dict, where: str = "") -> None:
    """Refuse what Go's `json:",string"` and Java's `@JsonString` refuse: an int64 field
    (`"type": "string", "format": "int64"`) must be a JSON string of digits, an integer field
    a JSON number. Raises AssertionError naming the field."""
    spec = schemas[schema]
    assert isinstance(value, dict), f"{where or schema}: expected an object"
    for name, item in value.items():
        field = spec.get("properties", {}).get(name)
        if field is None:
            continue
        _decode_field(item, field, schemas, f"{where}.{name}" if where else name)


def _decode_field(item, field, schemas, where):
    if "$ref" in field:
        strict_decode(item, field["$ref"], schemas, where)
    elif field.get("type") == "array":
        assert isinstance(item, list), f"{where}: expected an array"
        for i, x in enumerate(item):
            _decode_field(x, field["items"], schemas, f"{where}[{i}]")
    elif field.get("type") == "object":
        for name, sub in item.items():
            if name in field.get("properties", {}):
                _decode_field(sub, field["properties"][name], schemas, f"{where}.{name}")
    elif field.get("format") in ("int64", "uint64"):
        assert isinstance(item, str) and item.lstrip("-").isdigit(), \
            f"{where}: int64 must be a JSON string of digits, got {item!r}"
    elif field.get("type") == "integer":
        assert isinstance(item, int) and not isinstance(item, bool), f"{where}: expected a JSON number"


@pytest.fixture(scope="module")
def google_schemas():
    return json.loads(GOOGLE_DOC.read_text())["schemas"]


@pytest.fixture
def base(gunicorn_server, queue):
    return f"{gunicorn_server.url}/taskqueue/v1beta2/projects/s~wire-app/taskqueues/{queue}"


# --- 1. int64 fields are JSON strings ------------------------------------------------------

def test_every_answer_passes_the_generated_clients_int64_rule(base, google_schemas):
    inserted = requests.post(f"{base}/tasks", json={"payloadBase64": b64(b"x"), "tag": "t"}).json()
    strict_decode(inserted, "Task", google_schemas)
    leased = requests.post(f"{base}/tasks/lease?numTasks=5&leaseSecs=60").json()
    strict_decode(leased, "Tasks", google_schemas)
    task = leased["items"][0]
    strict_decode(requests.get(f"{base}/tasks/{task['id']}").json(), "Task", google_schemas)
    strict_decode(requests.get(f"{base}/tasks").json(), "Tasks2", google_schemas)
    renewed = requests.post(f"{base}/tasks/{task['id']}?newLeaseSeconds=30", json=task).json()
    strict_decode(renewed, "Task", google_schemas)
    patched = requests.patch(f"{base}/tasks/{task['id']}?newLeaseSeconds=30", json=renewed).json()
    strict_decode(patched, "Task", google_schemas)
    queue = requests.get(f"{base}?getStats=true").json()
    strict_decode(queue, "TaskQueue", google_schemas)
    assert isinstance(queue["stats"]["totalTasks"], int) and isinstance(task["retry_count"], int)


def test_the_decoder_refuses_a_bare_number_where_google_sent_a_string(google_schemas):
    with pytest.raises(AssertionError, match="enqueueTimestamp"):
        strict_decode({"enqueueTimestamp": 1795453847469036}, "Task", google_schemas)
    with pytest.raises(AssertionError, match="stats.oldestTask"):
        strict_decode({"stats": {"oldestTask": 1}}, "TaskQueue", google_schemas)


def test_numbers_and_numeric_strings_are_both_accepted_on_input(api, queue):
    eta = int(time.time() * 1e6) + 3_600_000_000
    as_number = insert(api, queue, id="n", leaseTimestamp=eta)
    as_string = insert(api, queue, id="s", leaseTimestamp=str(eta))
    assert as_number["leaseTimestamp"] == as_string["leaseTimestamp"] == str(eta)


@pytest.mark.skipif(shutil.which("go") is None, reason="needs a Go toolchain (apt-get install golang-go)")
def test_a_go_worker_decodes_every_answer_as_the_generated_client(gunicorn_server, queue, tmp_path):
    env = {**os.environ, "GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath"),
           "GO111MODULE": "off", "GOFLAGS": ""}
    run = subprocess.run(["go", "run", str(GO_CLIENT), gunicorn_server.url, "p~go-app", queue],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    inserted, (leased,) = report["inserted"], report["leased"]
    assert inserted["enqueueTimestamp"] > 1_600_000_000_000_000
    assert leased["id"] == inserted["id"] and leased["retryCount"] == 1
    assert leased["leaseTimestamp"] > inserted["enqueueTimestamp"]
    assert leased["queueName"] == f"projects/p~go-app/taskqueues/{queue}"
    stats = report["queue"]
    assert stats["totalTasks"] == 1 and stats["leasedLastMinute"] == 1 and stats["leasedLastHour"] == 1
    assert 0 < stats["oldestTask"] < time.time()
    assert stats["id"] == f"projects/p~go-app/taskqueues/{queue}"
    assert report["listed"] == 1
    assert report["renewed"]["leaseTimestamp"] > leased["leaseTimestamp"]
    assert report["emptyLeaseItems"] == 0  # the task was deleted through the parsed queueName
    assert requests.get(f"{gunicorn_server.url}/taskqueue/v1beta2/projects/go-app/taskqueues/{queue}"
                        "?getStats=true").json()["stats"]["totalTasks"] == 0


# --- 2. oldestTask in seconds --------------------------------------------------------------

def test_oldest_task_is_seconds_since_the_epoch_and_zero_when_empty(api, queue):
    def oldest():
        stats = api.taskqueues().get(project="app", taskqueue=queue, getStats=True).execute()["stats"]
        return float(stats["oldestTask"])

    assert oldest() == 0
    first = insert(api, queue, project="app")
    insert(api, queue, project="app")
    assert 0 < oldest() < time.time()  # how gtq.py decides that work is waiting
    assert oldest() == int(first["enqueueTimestamp"]) // 1_000_000


# --- 3. no items key in an empty answer ----------------------------------------------------

def test_a_purge_loop_of_while_items_in_list_ends(api, queue):
    """seung-lab's purge: list, delete what it names, until the answer has no `items`."""
    for i in range(7):
        insert(api, queue, id=f"p{i}")
    rounds = 0
    while "items" in (listed := api.tasks().list(project="s~test-app", taskqueue=queue).execute()):
        for task in listed["items"]:
            api.tasks().delete(project="s~test-app", taskqueue=queue, task=task["id"]).execute()
        rounds += 1
        assert rounds < 5
    assert rounds == 1 and listed == {"kind": "taskqueues#tasks"}


def test_an_empty_lease_has_no_items_over_http(base):
    r = requests.post(f"{base}/tasks/lease?numTasks=3&leaseSecs=10")
    assert r.json() == {"kind": "taskqueue#tasks"}


# --- 4. long-form names --------------------------------------------------------------------

def test_lease_update_and_patch_answer_the_long_queue_name_as_the_caller_wrote_the_project(api, queue):
    inserted = insert(api, queue, project="s~long-app")
    assert inserted["queueName"] == queue
    (leased,) = lease(api, queue, project="s~long-app")
    assert leased["queueName"] == f"projects/s~long-app/taskqueues/{queue}"
    renewed = api.tasks().update(project="long-app", taskqueue=queue, task=leased["id"],
                                 newLeaseSeconds=30, body=leased).execute()
    assert renewed["queueName"] == f"projects/long-app/taskqueues/{queue}"
    got = api.tasks().get(project="long-app", taskqueue=queue, task=leased["id"]).execute()
    assert got["queueName"] == queue


def test_a_java_style_worker_deletes_through_the_leased_queue_name(api, queue):
    insert(api, queue, id="job", project="s~java-app")
    (leased,) = lease(api, queue, project="s~java-app")
    _, project, _, queue_name = leased["queueName"].split("/")
    api.tasks().delete(project=project, taskqueue=queue_name, task=leased["id"]).execute()
    expect_error(api.tasks().get(project="java-app", taskqueue=queue, task="job"), 404, "notFound")


def test_the_queue_id_is_a_path_the_gcloud_taskqueue_library_can_call(gunicorn_server, queue):
    """gcloud_taskqueue keeps `id` as the queue's path: its next call is /taskqueue/v1beta2/<id>/tasks/."""
    root = f"{gunicorn_server.url}/taskqueue/v1beta2"
    found = requests.get(f"{root}/projects/s~lib-app/taskqueues/{queue}").json()
    assert found["id"] == f"projects/s~lib-app/taskqueues/{queue}"
    assert os.path.split(found["id"])[-1] == queue
    created = requests.post(f"{root}/{found['id']}/tasks/", json={"payloadBase64": b64(b"lib")})
    assert created.status_code == 200
    listed = requests.get(f"{root}/{found['id']}/tasks").json()
    assert [t["id"] for t in listed["items"]] == [created.json()["id"]]


# --- 5. partition prefixes -----------------------------------------------------------------

@pytest.mark.parametrize("project", ["p~part-app", "s~part-app", "e~part-app", "b~part-app",
                                     "x~part-app", "dev~part-app", "part-app"])
def test_any_one_letter_partition_and_dev_name_the_same_project(api, queue, project):
    insert(api, queue, id="shared", project="part-app")
    got = api.tasks().get(project=project, taskqueue=queue, task="shared").execute()
    assert got["id"] == "shared"


# --- 6. tombstones -------------------------------------------------------------------------

def test_a_repeated_delete_is_the_400_that_retrying_workers_treat_as_done(api, queue):
    insert(api, queue, id="done", project="app")
    api.tasks().delete(project="app", taskqueue=queue, task="done").execute()
    error = expect_error(api.tasks().delete(project="app", taskqueue=queue, task="done"),
                         400, "invalid", "task name is invalid")
    assert "done" in error["message"]
    expect_error(api.tasks().delete(project="app", taskqueue=queue, task="never-was"), 404, "notFound")


def test_the_admin_api_frees_tombstoned_names_of_one_queue(client, api, queue):
    insert(api, queue, id="reuse", project="app")
    api.tasks().delete(project="app", taskqueue=queue, task="reuse").execute()
    r = client.post(f"/admin/v1/projects/app/queues/{queue}/clearTombstones")
    assert r.status_code == 200 and r.get_json() == {"cleared": 1}
    assert insert(api, queue, id="reuse", project="app")["id"] == "reuse"


def test_the_admin_api_frees_tombstoned_names_of_every_queue(client, api, queue):
    other = queue + "-b"
    for q in (queue, other):
        insert(api, q, id="gone", project="app")
        api.tasks().delete(project="app", taskqueue=q, task="gone").execute()
    r = client.post("/admin/v1/tombstones/clear")
    assert r.status_code == 200 and r.get_json()["cleared"] >= 2
    for q in (queue, other):
        assert insert(api, q, id="gone", project="app")["id"] == "gone"


def test_a_tombstone_runs_out_after_task_tombstone_secs(app_redis, queue):
    from queueservice.engine.app import create_app
    from queueservice.config import Settings

    from tests.flask_http import FlaskHttp

    app = create_app(Settings(redis_url="redis://unused", log_level="WARNING", task_tombstone_secs=600),
                     redis_client=app_redis)
    api = build("taskqueue", "v1beta2", http=FlaskHttp(app), static_discovery=False,
                discoveryServiceUrl="http://localhost/discovery/v1/apis/{api}/{apiVersion}/rest")
    insert(api, queue, id="brief", project="app")
    api.tasks().delete(project="app", taskqueue=queue, task="brief").execute()
    expect_error(api.tasks().insert(project="app", taskqueue=queue,
                                    body={"id": "brief", "payloadBase64": "eA=="}), 409, "conflict")
    advance_clock(app.test_client(), 599)
    expect_error(api.tasks().delete(project="app", taskqueue=queue, task="brief"), 400, "invalid")
    advance_clock(app.test_client(), 2)
    assert insert(api, queue, id="brief", project="app")["id"] == "brief"


def test_tombstones_are_off_with_zero_seconds(app_redis, queue):
    from queueservice.engine.app import create_app
    from queueservice.config import Settings

    app = create_app(Settings(redis_url="redis://unused", log_level="WARNING", task_tombstone_secs=0),
                     redis_client=app_redis)
    web = app.test_client()
    path = f"/taskqueue/v1beta2/projects/app/taskqueues/{queue}/tasks"
    for _ in range(2):
        assert web.post(path, json={"id": "free", "payloadBase64": "eA=="}).status_code == 200
        assert web.delete(f"{path}/free").status_code == 204
    expect_json_error(web.delete(f"{path}/free"), 404, "notFound")


# --- 7. update takes the task from the body ------------------------------------------------

def test_update_takes_the_task_named_in_the_body(api, queue):
    insert(api, queue, id="first")
    insert(api, queue, id="second")
    first, second = lease(api, queue, num=2, secs=600)
    api.tasks().update(project="s~test-app", taskqueue=queue, task="first", newLeaseSeconds=0,
                       body=second).execute()
    assert [t["id"] for t in lease(api, queue)] == ["second"]


def test_update_with_an_invalid_name_in_the_body_is_400(api, queue):
    call = api.tasks().update(project="app", taskqueue=queue, task="a", newLeaseSeconds=0,
                              body={"id": "no spaces"})
    expect_error(call, 400, "invalid", "task name")


def test_patch_refuses_a_body_that_names_another_task(api, queue):
    insert(api, queue, id="mine")
    (task,) = lease(api, queue)
    call = api.tasks().patch(project="app", taskqueue=queue, task="other", newLeaseSeconds=0, body=task)
    expect_error(call, 400, "invalid", "does not match")


def test_a_post_overridden_to_patch_is_a_patch(base):
    """google-api-java-client sends PATCH as POST with X-HTTP-Method-Override on some transports."""
    requests.post(f"{base}/tasks", json={"id": "j1", "payloadBase64": b64(b"j")})
    requests.post(f"{base}/tasks/lease?numTasks=1&leaseSecs=60")
    r = requests.post(f"{base}/tasks/j1?newLeaseSeconds=1", headers={"X-HTTP-Method-Override": "PATCH"},
                      json={"id": "other"})
    assert "Body id" in r.json()["error"]["message"]
    assert r.status_code == 400 and "does not match" in r.json()["error"]["message"]


def test_a_project_named_api_is_still_served_at_the_root(gunicorn_server, queue):
    r = requests.get(f"{gunicorn_server.url}/api/taskqueues/{queue}")
    assert r.status_code == 200 and r.json()["id"] == f"projects/api/taskqueues/{queue}"


# --- Google's own document -----------------------------------------------------------------

def test_a_client_from_googles_document_reads_the_long_forms(gunicorn_server, queue):
    tq = build_from_document(GOOGLE_DOC.read_text(), http=httplib2.Http(),
                             client_options={"api_endpoint": gunicorn_server.url + "/"})
    tq.tasks().insert(project="s~doc-app", taskqueue=queue,
                      body={"queueName": queue, "payloadBase64": b64(b"doc")}).execute()
    answer = tq.tasks().lease(project="s~doc-app", taskqueue=queue, numTasks=1, leaseSecs=30).execute()
    assert answer["items"][0]["queueName"] == f"projects/s~doc-app/taskqueues/{queue}"
    assert base64.b64decode(answer["items"][0]["payloadBase64"]) == b"doc"
    assert tq.tasks().lease(project="doc-app", taskqueue=queue, numTasks=1, leaseSecs=30).execute() == \
        {"kind": "taskqueue#tasks"}
