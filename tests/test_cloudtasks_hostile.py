"""Hostile input over every Cloud Tasks v2 method (issue 11): each request is refused with Google's
v2 error body and the status Google gives (400 INVALID_ARGUMENT mostly), never a 500, and a
refused request leaves the store exactly as it was.

In-process on fakeredis: one app for the module, seeded once; each case checks that it left the
store as seeded (and seeds it again if not, so that one failure stays one).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import fakeredis
import pytest

from queueservice.config import Settings
from queueservice.engine.app import create_app
from queueservice.errors import Code

P = "projects/p/locations/l"
Q = f"{P}/queues/q"
T = f"{Q}/tasks/t"
OTHER = f"{P}/queues/other"
MAX_REQUEST_BYTES = 2 * 1024 * 1024
#: Statuses an error class pins apart from its code's (errors.py): the code that goes with each.
PINNED = {405: "UNIMPLEMENTED", 413: "INVALID_ARGUMENT"}


@pytest.fixture(scope="module")
def store():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture(scope="module")
def web(store):
    settings = Settings(redis_url="redis://unused", log_level="CRITICAL", max_request_bytes=MAX_REQUEST_BYTES)
    return create_app(settings, redis_client=store).test_client()


def _in(seconds: int) -> str:
    return datetime.fromtimestamp(time.time() + seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module", autouse=True)
def seeded(web, store):
    """Queues q (with an HTTP target, for buffer) and other, each with a task due tomorrow. Refused
    requests change nothing (each case checks it), so the seed is made once; a test that changes
    the store asks for `fresh`."""
    _seed(web, store)


@pytest.fixture
def fresh(web, store):
    yield
    _seed(web, store)


def _seed(web, store):
    global BASELINE
    store.flushall()
    for name in (Q, OTHER):
        made = web.post(f"/v2/{P}/queues", json={"name": name, "httpTarget": {
            "uriOverride": {"scheme": "HTTP", "host": "127.0.0.1", "port": "9"}}})
        assert made.status_code == 200, made.get_json()
        task = web.post(f"/v2/{name}/tasks", json={"task": {
            "name": f"{name}/tasks/t", "scheduleTime": _in(86400), "httpRequest": {"url": "http://127.0.0.1:9/"}}})
        assert task.status_code == 200, task.get_json()
    BASELINE = snapshot(store)


BASELINE = {}


def snapshot(store) -> dict:
    """Every key with its serialised value, to show that a refused request changed nothing."""
    return {key: store.dump(key) for key in store.keys()}


def send(web, verb: str, path: str, body=None):
    """`body`: bytes as they are, anything else as JSON, None for no body."""
    if body is None:
        return web.open(path, method=verb)
    data = body if isinstance(body, bytes) else json.dumps(body)
    return web.open(path, method=verb, data=data, content_type="application/json")


def refused(web, store, verb, path, body, status, code, part="", baseline=None):
    """The request is answered with Google's v2 error (status, canonical code, a message naming
    the problem) and the store is as seeded (or as `baseline`)."""
    response = send(web, verb, path, body)
    changed = snapshot(store) != (BASELINE if baseline is None else baseline)
    if changed:
        _seed(web, store)  # so that one failure does not fail every case after it
    answer = response.get_json(silent=True)
    assert response.status_code == status, (response.status_code, answer)
    error = answer["error"]
    assert set(error) == {"code", "message", "status", "details"}, error
    assert error["code"] == status and error["status"] == code, error
    assert Code[code].http_status == status or PINNED.get(status) == code
    assert error["message"] and part in error["message"], error
    assert not changed, "a refused request changed the store"
    return error


# --- every method, its verb and URL ------------------------------------------------------------

METHODS = {  # method id (after cloudtasks.projects.locations) -> (verb, path, a good body or None)
    "get": ("GET", f"/v2/{P}", None),
    "list": ("GET", "/v2/projects/p/locations", None),
    "getCmekConfig": ("GET", f"/v2/{P}/cmekConfig", None),
    "updateCmekConfig": ("PATCH", f"/v2/{P}/cmekConfig", {}),
    "operations.get": ("GET", f"/v2/{P}/operations/1", None),
    "queues.create": ("POST", f"/v2/{P}/queues", {"name": f"{P}/queues/new"}),
    "queues.get": ("GET", f"/v2/{Q}", None),
    "queues.list": ("GET", f"/v2/{P}/queues", None),
    "queues.patch": ("PATCH", f"/v2/{Q}", {}),
    "queues.delete": ("DELETE", f"/v2/{Q}", None),
    "queues.pause": ("POST", f"/v2/{Q}:pause", {}),
    "queues.resume": ("POST", f"/v2/{Q}:resume", {}),
    "queues.purge": ("POST", f"/v2/{Q}:purge", {}),
    "queues.getIamPolicy": ("POST", f"/v2/{Q}:getIamPolicy", {}),
    "queues.setIamPolicy": ("POST", f"/v2/{Q}:setIamPolicy", {}),
    "queues.testIamPermissions": ("POST", f"/v2/{Q}:testIamPermissions", {}),
    "queues.tasks.create": ("POST", f"/v2/{Q}/tasks", {"task": {"httpRequest": {"url": "http://127.0.0.1:9/"}}}),
    "queues.tasks.get": ("GET", f"/v2/{T}", None),
    "queues.tasks.list": ("GET", f"/v2/{Q}/tasks", None),
    "queues.tasks.delete": ("DELETE", f"/v2/{T}", None),
    "queues.tasks.run": ("POST", f"/v2/{T}:run", {}),
    "queues.tasks.batchCreate": ("POST", f"/v2/{Q}/tasks:batchCreate",
                                 {"requests": [{"task": {"httpRequest": {"url": "http://127.0.0.1:9/"}}}]}),
    "queues.tasks.batchDelete": ("POST", f"/v2/{Q}/tasks:batchDelete", {"names": [T]}),
    "queues.tasks.buffer": ("POST", f"/v2/{Q}/tasks/b1:buffer", {}),
}
WITH_BODY = [m for m, (_, _, body) in METHODS.items() if body is not None]
COVERED = set()


def cases(method_ids, *rows):
    """Parameters for each method id with each row, remembering which methods were covered."""
    COVERED.update(method_ids)
    return [pytest.param(m, *row, id=f"{m}-{i}") for m in method_ids for i, row in enumerate(rows)]


# --- bodies that are not a JSON object -----------------------------------------------------------

NOT_OBJECTS = [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"text"', "must be a JSON object"),
    (b"5", "must be a JSON object"),
    (b"null", "must be a JSON object"),
    (b"NaN", "not valid JSON"),
    (b'{"a": Infinity}', "not valid JSON"),
    (b'{"a": 1', "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b"[" * 5000, "not valid JSON"),
]


@pytest.mark.parametrize("method", WITH_BODY)
def test_a_body_that_is_not_a_json_object_is_400(web, store, method):
    verb, path, _ = METHODS[method]
    for raw, part in NOT_OBJECTS:
        refused(web, store, verb, path, raw, 400, "INVALID_ARGUMENT", part)


@pytest.mark.parametrize("method", WITH_BODY)
def test_an_unknown_field_is_refused_with_googles_message(web, store, method):
    verb, path, good = METHODS[method]
    refused(web, store, verb, path, {**good, "bogus": 1}, 400, "INVALID_ARGUMENT",
            'Invalid JSON payload received. Unknown name "bogus"')


@pytest.mark.parametrize("method, body, where", cases(
    ["queues.create"],
    ({"name": f"{P}/queues/new", "rateLimits": {"maxBurst": 5}}, "at 'queue.rate_limits'"),
    ({"name": f"{P}/queues/new", "rate_limit": {"maxDispatchesPerSecond": 5}}, '"rate_limit"'),
    ({"name": f"{P}/queues/new", "httpTarget": {"uriOverride": {"hostname": "x"}}}, "at 'queue.http_target.uri_override'"),
) + cases(
    ["queues.tasks.create"],
    ({"task": {"httpRequest": {"url": "http://x/", "oidcToken": {"email": "a@b"}}}}, "at 'task.http_request.oidc_token'"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "retryConfig": {"attempts": 3}}}, "at 'task.retry_config'"),
) + cases(
    ["queues.tasks.batchCreate"],
    ({"requests": [{"task": {"httpRequest": {"url": "http://x/", "uri": "/"}}}]}, "at 'requests[0].task.http_request'"),
) + cases(
    ["queues.setIamPolicy"],
    ({"policy": {"bindings": [{"role": "roles/viewer", "member": "user:a@b"}]}}, "at 'policy.bindings[0]'"),
) + cases(
    ["queues.tasks.buffer"],
    ({"body": {"data": "aGk=", "mime": "text/plain"}}, "at 'body'"),
))
def test_an_unknown_nested_field_is_refused_where_it_is(web, store, method, body, where):
    verb, path, _ = METHODS[method]
    refused(web, store, verb, path, body, 400, "INVALID_ARGUMENT", where)


def test_proto_field_names_are_read_as_the_documents_names():
    """Google's JSON parser takes a field's proto name too (`rate_limits`, `schedule_time`)."""
    settings = Settings(redis_url="redis://unused", log_level="CRITICAL")
    web = create_app(settings, redis_client=fakeredis.FakeRedis(server=fakeredis.FakeServer())).test_client()
    name = f"{P}/queues/snake"
    made = web.post(f"/v2/{P}/queues", json={"name": name, "rate_limits": {"max_dispatches_per_second": 7}})
    assert made.status_code == 200 and made.get_json()["rateLimits"]["maxDispatchesPerSecond"] == 7
    later = _in(3600)
    task = web.post(f"/v2/{name}/tasks", json={"task": {"http_request": {"url": "http://x/", "http_method": "PUT"},
                                                         "schedule_time": later}}).get_json()
    assert task["httpRequest"]["httpMethod"] == "PUT" and task["scheduleTime"] == later


# --- wrong types and values, for every kind of field ---------------------------------------------

NEW = f"{P}/queues/new"


def queue(**fields):
    return {"name": NEW, **fields}


def http_task(**request):
    return {"task": {"httpRequest": {"url": "http://127.0.0.1:9/", **request}}}


@pytest.mark.parametrize("method, body, part", cases(
    ["queues.create"],
    # string
    ({"name": 5}, "name: expected a string"),
    ({"name": ["x"]}, "name: expected a string"),
    ({"name": "\ud800"}, "not valid JSON"),
    # object
    (queue(rateLimits=[]), "rateLimits: expected a JSON object"),
    (queue(retryConfig="fast"), "retryConfig: expected a JSON object"),
    # integer (int32)
    (queue(rateLimits={"maxConcurrentDispatches": "x"}), "maxConcurrentDispatches"),
    (queue(rateLimits={"maxConcurrentDispatches": True}), "expected a number"),
    (queue(rateLimits={"maxConcurrentDispatches": 1.5}), "expected a whole number"),
    (queue(rateLimits={"maxConcurrentDispatches": 2**31}), "out of range for int32"),
    (queue(rateLimits={"maxConcurrentDispatches": 10**30}), "maxConcurrentDispatches"),
    (queue(rateLimits={"maxConcurrentDispatches": "١٢"}), "must be a whole number"),
    (queue(rateLimits={"maxConcurrentDispatches": 0}), "between 1 and 5000"),
    (queue(rateLimits={"maxConcurrentDispatches": 5001}), "between 1 and 5000"),
    (queue(retryConfig={"maxAttempts": -2}), "maxAttempts must be -1"),
    (queue(retryConfig={"maxDoublings": -1}), "maxDoublings must not be negative"),
    # number (double)
    (queue(rateLimits={"maxDispatchesPerSecond": "fast"}), "must be a number"),
    (queue(rateLimits={"maxDispatchesPerSecond": "NaN"}), "must be a finite number"),
    (queue(rateLimits={"maxDispatchesPerSecond": "Infinity"}), "must be a finite number"),
    (queue(rateLimits={"maxDispatchesPerSecond": "1_0"}), "must be a number"),
    (queue(rateLimits={"maxDispatchesPerSecond": "١"}), "must be a number"),
    (queue(rateLimits={"maxDispatchesPerSecond": 1e308}), "at most 500"),
    (queue(rateLimits={"maxDispatchesPerSecond": -1}), "more than 0"),
    (queue(rateLimits={"maxDispatchesPerSecond": 0}), "more than 0"),
    (queue(stackdriverLoggingConfig={"samplingRatio": 1.5}), "samplingRatio"),
    # duration
    (queue(retryConfig={"minBackoff": "1x"}), "duration"),
    (queue(retryConfig={"minBackoff": "1e9s"}), "duration"),
    (queue(retryConfig={"minBackoff": "-1s"}), "minBackoff must not be negative"),
    (queue(retryConfig={"minBackoff": "1 s"}), "duration"),
    (queue(retryConfig={"minBackoff": "١s"}), "duration"),
    (queue(retryConfig={"maxBackoff": "999999999999s"}), "longest duration"),
    (queue(retryConfig={"minBackoff": 5}), "expected a string"),
    (queue(retryConfig={"minBackoff": "10s", "maxBackoff": "1s"}), "minBackoff must not be more"),
    # enum
    (queue(state="ASLEEP"), "must be one of"),
    (queue(state=9), "must be one of"),
    (queue(httpTarget={"httpMethod": "FETCH"}), "must be one of"),
    (queue(httpTarget={"uriOverride": {"host": "x", "scheme": "GOPHER"}}), "must be one of"),
    # int64 (a JSON string)
    (queue(httpTarget={"uriOverride": {"host": "x", "port": "eighty"}}), "must be a whole number"),
    (queue(httpTarget={"uriOverride": {"host": "x", "port": "99999999999999999999"}}), "port"),
    (queue(httpTarget={"uriOverride": {"host": "x", "port": "-1"}}), "positive port number"),
    (queue(httpTarget={"uriOverride": {"host": "x", "port": 65536}}), "positive port number"),
    # array
    (queue(httpTarget={"headerOverrides": {"header": {"key": "a", "value": "b"}}}), "expected a JSON array"),
    # strings the dispatcher would send as they are
    (queue(httpTarget={"uriOverride": {"host": ""}}), "cannot be empty"),
    (queue(httpTarget={"uriOverride": {"host": "evil.com/path"}}), "host name"),
    (queue(httpTarget={"uriOverride": {"host": "a\r\nb"}}), "host name"),
    (queue(httpTarget={"uriOverride": {"pathOverride": {"path": "no-slash"}}}), "must start with /"),
    (queue(httpTarget={"uriOverride": {"queryOverride": {"queryParams": "a=1#frag"}}}), "queryParams"),
    (queue(httpTarget={"headerOverrides": [{"header": {"key": "Bad Name", "value": "v"}}]}), "header name"),
    (queue(httpTarget={"headerOverrides": [{"header": {"key": "X-A", "value": "a\nb"}}]}), "one line"),
    (queue(httpTarget={"oauthToken": {"serviceAccountEmail": "a@b"},
                       "oidcToken": {"serviceAccountEmail": "a@b"}}), "not both"),
) + cases(
    ["queues.tasks.create"],
    # object / string / timestamp / duration / bytes / enum / map, in a task
    ({"task": "t"}, "task: expected a JSON object"),
    (http_task(url=5), "url: expected a string"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "scheduleTime": "2030-13-45T00:00:00Z"}}, "date and time"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "scheduleTime": "yesterday"}}, "RFC 3339"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "scheduleTime": "2030-01-01"}}, "RFC 3339"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "scheduleTime": "٢٠٣٠-01-01T00:00:00Z"}}, "RFC 3339"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "scheduleTime": 1893456000}}, "expected a string"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "scheduleTime": "9999-12-31T23:59:59Z"}}, "30 days"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "dispatchDeadline": "10s"}}, "between 15s and 1800s"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "dispatchDeadline": "1801s"}}, "between 15s and 1800s"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "dispatchDeadline": "-20s"}}, "between 15s and 1800s"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "dispatchDeadline": "1x"}}, "duration"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "retryConfig": {"minBackoff": "-1s"}}}, "must not be negative"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "retryConfig": {"maxAttempts": -5}}}, "maxAttempts must be -1"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "retryConfig": {"maxDoublings": -1}}}, "maxDoublings"),
    (http_task(body="a==="), "base64"),
    (http_task(body="!!!!"), "base64"),
    (http_task(body=12), "expected a string"),
    (http_task(body="aGk=", httpMethod="GET"), "cannot have a body"),
    (http_task(httpMethod="FETCH"), "must be one of"),
    (http_task(httpMethod=99), "must be one of"),
    (http_task(httpMethod=-1), "must be one of"),
    (http_task(httpMethod=True), "expected a string"),
    ({"task": {"httpRequest": {"url": "http://x/"}}, "responseView": "HUGE"}, "must be one of"),
    (http_task(headers=[]), "headers: expected a JSON object"),
    (http_task(headers={"X-A": 5}), "expected a string"),
    (http_task(headers={"X-A": None}), "one line"),
    (http_task(headers={"Bad Name": "v"}), "header name"),
    (http_task(headers={"X-A": "a\r\nInjected: yes"}), "one line"),
    (http_task(headers={"X-A": "v" * 81 * 1024}), "80 KB"),
    ({"task": {"httpRequest": {"url": "ftp://x/"}}}, "http:// or https://"),
    ({"task": {"httpRequest": {"url": "http:///no-host"}}}, "with a host"),
    ({"task": {"httpRequest": {"url": "http://x:port/"}}}, "with a host"),
    ({"task": {"httpRequest": {"url": "http://x/a b"}}}, "without spaces"),
    ({"task": {"httpRequest": {"url": "http://x/\r\nHost: evil"}}}, "control characters"),
    ({"task": {"httpRequest": {"url": "http://x/" + "a" * 2084}}}, "2083"),
    (http_task(oauthToken={"serviceAccountEmail": "a@b"}, oidcToken={"serviceAccountEmail": "a@b"}), "not both"),
    ({"task": {"appEngineHttpRequest": {"relativeUri": "no-slash"}}}, "must start with /"),
    ({"task": {"appEngineHttpRequest": {"relativeUri": "/a\nb"}}}, "must start with /"),
    ({"task": {"appEngineHttpRequest": {"appEngineRouting": "default"}}}, "expected a JSON object"),
    ({"task": {}}, "exactly one of httpRequest and appEngineHttpRequest"),
    ({"task": {"httpRequest": {"url": "http://x/"}, "appEngineHttpRequest": {}}}, "exactly one of"),
) + cases(
    ["queues.patch"],
    ({"rateLimits": {"maxDispatchesPerSecond": 501}}, "at most 500"),
    ({"retryConfig": {"maxRetryDuration": "-5s"}}, "maxRetryDuration must not be negative"),
    ({"httpTarget": {"uriOverride": {"host": ""}}}, "cannot be empty"),
) + cases(
    ["updateCmekConfig"],
    ({"kmsKey": 5}, "expected a string"),
    ({"kmsKey": "my-key"}, "Cloud KMS key name"),
    ({"kmsKey": "projects/p/locations/l/keyRings/r/cryptoKeys/k/extra"}, "Cloud KMS key name"),
) + cases(
    ["queues.getIamPolicy"],
    ({"options": []}, "expected a JSON object"),
    ({"options": {"requestedPolicyVersion": 2}}, "must be 0, 1 or 3"),
    ({"options": {"requestedPolicyVersion": "three"}}, "must be a whole number"),
) + cases(
    ["queues.setIamPolicy"],
    ({"policy": "owner"}, "expected a JSON object"),
    ({"policy": {"version": 7}}, "must be 0, 1 or 3"),
    ({"policy": {"etag": "not base64!"}}, "base64"),
    ({"policy": {"bindings": {"role": "x"}}}, "expected a JSON array"),
    ({"policy": {"bindings": [{"members": "user:a@b"}]}}, "expected a JSON array"),
) + cases(
    ["queues.testIamPermissions"],
    ({"permissions": "cloudtasks.tasks.create"}, "expected a JSON array"),
    ({"permissions": [5]}, "expected a string"),
    ({"permissions": ["cloudtasks.*"]}, "wildcards"),
) + cases(
    ["queues.tasks.run"],
    ({"responseView": "ALL"}, "must be one of"),
    ({"responseView": 3}, "must be one of"),
) + cases(
    ["queues.tasks.buffer"],
    ({"body": "raw"}, "expected a JSON object"),
    ({"body": {"data": "%%%"}}, "base64"),
    ({"body": {"data": "aGk=", "contentType": "text/plain\r\nX-Injected: 1"}}, "one line"),
) + cases(
    ["queues.tasks.batchCreate"],
    ({"requests": {}}, "expected a JSON array"),
    ({"requests": [5]}, "expected a JSON object"),
    ({"requests": [{"task": {"scheduleTime": "soon"}}]}, "RFC 3339"),
) + cases(
    ["queues.tasks.batchDelete"],
    ({"names": T}, "expected a JSON array"),
    ({"names": [5]}, "expected a string"),
))
def test_a_wrong_type_or_value_is_400_naming_the_field(web, store, method, body, part):
    verb, path, _ = METHODS[method]
    refused(web, store, verb, path, body, 400, "INVALID_ARGUMENT", part)


# --- names in the URL and in bodies --------------------------------------------------------------

URLS = {  # method -> URL template of {project}, {location}, {queue}, {task}
    "get": ("GET", "/v2/projects/{project}/locations/{location}"),
    "list": ("GET", "/v2/projects/{project}/locations"),
    "getCmekConfig": ("GET", "/v2/projects/{project}/locations/{location}/cmekConfig"),
    "updateCmekConfig": ("PATCH", "/v2/projects/{project}/locations/{location}/cmekConfig"),
    "operations.get": ("GET", "/v2/projects/{project}/locations/{location}/operations/1"),
    "queues.create": ("POST", "/v2/projects/{project}/locations/{location}/queues"),
    "queues.list": ("GET", "/v2/projects/{project}/locations/{location}/queues"),
    "queues.get": ("GET", "/v2/projects/{project}/locations/{location}/queues/{queue}"),
    "queues.patch": ("PATCH", "/v2/projects/{project}/locations/{location}/queues/{queue}"),
    "queues.delete": ("DELETE", "/v2/projects/{project}/locations/{location}/queues/{queue}"),
    "queues.pause": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}:pause"),
    "queues.resume": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}:resume"),
    "queues.purge": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}:purge"),
    "queues.getIamPolicy": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}:getIamPolicy"),
    "queues.setIamPolicy": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}:setIamPolicy"),
    "queues.testIamPermissions": ("POST",
                                  "/v2/projects/{project}/locations/{location}/queues/{queue}:testIamPermissions"),
    "queues.tasks.create": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}/tasks"),
    "queues.tasks.list": ("GET", "/v2/projects/{project}/locations/{location}/queues/{queue}/tasks"),
    "queues.tasks.batchCreate": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}/tasks:batchCreate"),
    "queues.tasks.batchDelete": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}/tasks:batchDelete"),
    "queues.tasks.get": ("GET", "/v2/projects/{project}/locations/{location}/queues/{queue}/tasks/{task}"),
    "queues.tasks.delete": ("DELETE", "/v2/projects/{project}/locations/{location}/queues/{queue}/tasks/{task}"),
    "queues.tasks.run": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}/tasks/{task}:run"),
    "queues.tasks.buffer": ("POST", "/v2/projects/{project}/locations/{location}/queues/{queue}/tasks/{task}:buffer"),
}
GOOD = {"project": "p", "location": "l", "queue": "q", "task": "t"}
BODIES = {"queues.create": lambda parts: {"name": "projects/{project}/locations/{location}/queues/new".format(**parts)},
          "queues.tasks.batchCreate": lambda parts: METHODS["queues.tasks.batchCreate"][2],
          "queues.tasks.batchDelete": lambda parts: {"names": [T]},
          "queues.tasks.create": lambda parts: METHODS["queues.tasks.create"][2]}
BAD_PROJECTS = ["..", ".", "-", "%00", "a%20b", "%C3%A9", "x" * 101, "p%0A"]
BAD_LOCATIONS = ["..", "-l", "%0A", "%C3%A9", "l" * 70, "a%20b"]
BAD_QUEUES = ["..", "bad_name!", "%C3%A9", "q" * 101, "%00", "a%20b", "q.q"]
BAD_TASKS = ["..", "a.b", "%C3%A9", "t" * 501, "%00", "a%20b", "t~"]


BAD_NAMES = {  # part -> (values, status, code, message)
    "project": (BAD_PROJECTS, 403, "PERMISSION_DENIED", "Permission denied on resource project"),
    "location": (BAD_LOCATIONS, 400, "INVALID_ARGUMENT", "name must be formatted"),
    "queue": (BAD_QUEUES, 400, "INVALID_ARGUMENT", "Queue name must be formatted"),
    "task": (BAD_TASKS, 400, "INVALID_ARGUMENT", "can contain only letters ([A-Za-z]), numbers ([0-9]), hyphens (-), "
                                                 "or underscores (_). Task ID must between 1 and 500 characters."),
}
NAME_CASES = [(m, part) for m, (_, url) in URLS.items() for part in GOOD if "{" + part + "}" in url]
COVERED.update(m for m, _ in NAME_CASES)


def _body_for(method: str, verb: str, parts: dict):
    return BODIES.get(method, lambda _: {} if verb in ("POST", "PATCH") else None)(parts)


@pytest.mark.parametrize("method, part", NAME_CASES)
def test_a_malformed_name_is_refused(web, store, method, part):
    verb, template = URLS[method]
    values, status, code, message = BAD_NAMES[part]
    for value in values:
        parts = {**GOOD, part: value}
        refused(web, store, verb, template.format(**parts), _body_for(method, verb, parts), status, code, message)


@pytest.mark.parametrize("method", URLS)
def test_a_slash_smuggled_into_a_name_matches_no_route(web, store, method):
    """`%2F` decodes to `/`: the path no longer fits the method's pattern (Google: 404)."""
    verb, template = URLS[method]
    for part in GOOD:
        if "{" + part + "}" in template:
            parts = {**GOOD, part: "a%2F..%2Fb"}
            refused(web, store, verb, template.format(**parts), _body_for(method, verb, parts), 404, "NOT_FOUND",
                    "Not Found")


@pytest.mark.parametrize("method, body, status, code, part", cases(
    ["queues.create"],
    ({"name": f"{P}/queues/bad_name!"}, 400, "INVALID_ARGUMENT", "Queue name must be formatted"),
    ({"name": "projects/../locations/l/queues/x"}, 403, "PERMISSION_DENIED", "resource project .."),
    ({"name": "projects/p/locations/other/queues/x"}, 400, "INVALID_ARGUMENT", "must be in the parent"),
    ({"name": f"{P}/queues/" + "x" * 101}, 400, "INVALID_ARGUMENT", "Queue name must be formatted"),
    ({}, 400, "INVALID_ARGUMENT", "Queue.name is required"),
    ({"name": Q}, 409, "ALREADY_EXISTS", "Queue already exists"),
) + cases(
    ["queues.tasks.create"],
    ({"task": {"name": f"{Q}/tasks/not a valid id", "httpRequest": {"url": "http://x/"}}}, 400, "INVALID_ARGUMENT",
     'Task ID "not a valid id" can contain only letters'),
    ({"task": {"name": f"{Q}/tasks/" + "t" * 501, "httpRequest": {"url": "http://x/"}}}, 400, "INVALID_ARGUMENT",
     "Task ID must between 1 and 500 characters"),
    ({"task": {"name": f"{Q}/tasks/", "httpRequest": {"url": "http://x/"}}}, 400, "INVALID_ARGUMENT", 'Task ID ""'),
    ({"task": {"name": f"{Q}/t", "httpRequest": {"url": "http://x/"}}}, 400, "INVALID_ARGUMENT",
     "Task name must be formatted"),
    ({"task": {"name": f"{OTHER}/tasks/x", "httpRequest": {"url": "http://x/"}}}, 400, "INVALID_ARGUMENT",
     "must be the same as the queue name in the named task"),
    ({"task": {"name": T, "httpRequest": {"url": "http://x/"}}}, 409, "ALREADY_EXISTS", "Requested entity already exists"),
))
def test_a_bad_name_in_a_body_is_refused(web, store, method, body, status, code, part):
    verb, path, _ = METHODS[method]
    refused(web, store, verb, path, body, status, code, part)


# --- query parameters ----------------------------------------------------------------------------

LISTS = ["list", "queues.list", "queues.tasks.list"]


@pytest.mark.parametrize("method, query, part", cases(
    LISTS,
    ("pageSize=-1", "pageSize must not be negative"),
    ("pageSize=2147483648", "out of range for int32"),
    ("pageSize=99999999999999999999999", "pageSize"),
    ("pageSize=abc", "must be a whole number"),
    ("pageSize=1.5", "must be a whole number"),
    ("pageSize=", "must be a whole number"),
    ("pageSize=%D9%A1", "must be a whole number"),
    ("pageSize=0x10", "must be a whole number"),
    ("pageSize=1&pageSize=2", "given 2 times"),
    ("pageToken=x", "pageToken is not a token this server gave"),
    ("pageToken=%21%21%21", "pageToken is not a token this server gave"),
    ("pageToken=LTE%3D", "pageToken is not a token this server gave"),  # "-1"
    ("pageToken=OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "pageToken is not a token this server gave"),
    ("pageToken=2aE%3D", "pageToken is not a token this server gave"),  # an Arabic-Indic digit
    ("pageToken=MV8w", "pageToken is not a token this server gave"),  # "1_0"
    ("pageToken=%FF%FE", "pageToken is not a token this server gave"),
    ("$.xgafv=3", "$.xgafv"),
    ("alt=xml", "alt"),
    ("prettyPrint=maybe", "prettyPrint"),
    ("fields=nothing", "Invalid field selection"),
) + cases(
    ["queues.list"],
    ("filter=name%3Ax", "filter"),
    ("filter=state%3A%20paused", "filter"),
    ("filter=%00", "filter"),
) + cases(
    ["queues.tasks.list", "queues.tasks.get"],
    ("responseView=7", "must be one of"),
    ("responseView=-1", "must be one of"),
    ("responseView=full", "must be one of"),
    ("responseView=", "must be one of"),
    ("responseView=99999999999999999999", "must be one of"),
) + cases(
    ["queues.patch", "updateCmekConfig"],
    ("updateMask=nothing", "updateMask names an unknown field"),
    ("updateMask=rate_limits", "updateMask names an unknown field"),
    ("updateMask=a..b", "not a field mask"),
    ("updateMask=*", "not a field mask"),
    ("updateMask=a%20b", "not a field mask"),
    ("updateMask=%00", "not a field mask"),
) + cases(
    ["queues.patch"],
    ("updateMask=rateLimits.maxDispatchesPerSecond.x", "updateMask names an unknown field"),
    ("updateMask=retryConfig.minBackoff.x.y", "updateMask names an unknown field"),
    ("updateMask=httpTarget.uriOverride.port.x", "updateMask names an unknown field"),
    ("updateMask=httpTarget.headerOverrides.header", "updateMask names an unknown field"),
    ("updateMask=rateLimits.foo", "updateMask names an unknown field"),
    ("updateMask=purgeTime.x", "updateMask names an unknown field"),
    ("updateMask=" + "x" * 5000, "updateMask names an unknown field"),
))
def test_a_bad_query_parameter_is_400(web, store, method, query, part):
    verb, path, body = METHODS[method]
    refused(web, store, verb, f"{path}?{query}", body, 400, "INVALID_ARGUMENT", part)


@pytest.mark.parametrize("query", ["pageSize=0", "pageSize=2147483647", "pageSize=%2B5"])
def test_page_sizes_out_of_bounds_are_capped_not_refused(web, query):
    for path in (f"/v2/{P}/queues", f"/v2/{Q}/tasks", "/v2/projects/p/locations"):
        response = web.get(f"{path}?{query}")
        assert response.status_code == 200 and "nextPageToken" not in response.get_json(), response.get_json()


def test_a_page_token_given_by_the_server_still_works(web):
    first = web.get(f"/v2/{P}/queues?pageSize=1").get_json()
    second = web.get(f"/v2/{P}/queues?pageSize=1&pageToken={first['nextPageToken']}").get_json()
    assert [q["name"] for q in first["queues"] + second["queues"]] == [OTHER, Q]
    assert "nextPageToken" not in second


# --- batches -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, body, part", cases(
    ["queues.tasks.batchCreate"],
    ({}, "requests is required"),
    ({"requests": []}, "requests is required"),
    ({"requests": None}, "requests is required"),
    ({"requests": [{"task": {"httpRequest": {"url": "http://x/"}}}] * 101}, "at most 100"),
) + cases(
    ["queues.tasks.batchDelete"],
    ({}, "names is required"),
    ({"names": []}, "names is required"),
    ({"names": [f"{Q}/tasks/n{i}" for i in range(1001)]}, "at most 1000"),
))
def test_an_empty_or_oversized_batch_is_refused_whole(web, store, method, body, part):
    verb, path, _ = METHODS[method]
    refused(web, store, verb, path, body, 400, "INVALID_ARGUMENT", part)


def test_a_duplicate_name_in_a_batch_fails_alone(web, fresh):
    request = {"task": {"name": f"{Q}/tasks/twice", "httpRequest": {"url": "http://127.0.0.1:9/"},
                        "scheduleTime": _in(3600)}}
    op = web.post(f"/v2/{Q}/tasks:batchCreate", json={"requests": [request, request]}).get_json()
    assert op["metadata"]["state"] == "PARTIALLY_SUCCEEDED"
    assert op["metadata"]["failedRequests"] == {"1": {"code": 6, "message": "Requested entity already exists"}}
    assert [t["name"] for t in op["response"]["tasks"]] == [f"{Q}/tasks/twice"]
    gone = web.post(f"/v2/{Q}/tasks:batchDelete", json={"names": [f"{Q}/tasks/twice"] * 2}).get_json()
    assert list(gone["metadata"]["failedRequests"]) == ["1"] and gone["metadata"]["failedRequests"]["1"]["code"] == 5


def test_a_batch_delete_never_reaches_into_another_queue(web, fresh):
    op = web.post(f"/v2/{Q}/tasks:batchDelete", json={"names": [f"{OTHER}/tasks/t", f"{Q}/tasks/bad id"]}).get_json()
    failed = op["metadata"]["failedRequests"]
    assert failed["0"]["code"] == 3 and "must be the same as the queue name" in failed["0"]["message"]
    assert failed["1"]["code"] == 3 and "Task ID" in failed["1"]["message"]
    assert web.get(f"/v2/{OTHER}/tasks/t").status_code == 200


def test_a_batch_create_reports_each_bad_request_and_makes_the_good_ones(web, fresh):
    requests = [{}, {"task": {"name": f"{OTHER}/tasks/x", "httpRequest": {"url": "http://x/"}}},
                {"task": {"httpRequest": {"url": "ftp://x/"}}}, {"task": {"httpRequest": {"url": "http://x/"}}}]
    op = web.post(f"/v2/{Q}/tasks:batchCreate", json={"requests": requests}).get_json()
    assert sorted(op["metadata"]["failedRequests"]) == ["0", "1", "2"]
    assert {f["code"] for f in op["metadata"]["failedRequests"].values()} == {3}
    assert len(op["response"]["tasks"]) == 1
    assert web.get(f"/v2/{OTHER}/tasks/x").status_code == 404


# --- updates that leave a whole queue --------------------------------------------------------------

def test_a_masked_field_missing_from_the_body_goes_back_to_its_default(web, fresh):
    web.patch(f"/v2/{Q}", json={"rateLimits": {"maxDispatchesPerSecond": 5, "maxConcurrentDispatches": 2},
                                "retryConfig": {"maxAttempts": 3}})
    got = web.patch(f"/v2/{Q}?updateMask=rateLimits,retryConfig.maxAttempts", json={}).get_json()
    assert got["rateLimits"] == {"maxDispatchesPerSecond": 500.0, "maxBurstSize": 100, "maxConcurrentDispatches": 1000}
    assert got["retryConfig"]["maxAttempts"] == 100
    assert web.get(f"/v2/{Q}").get_json() == got


def test_clearing_a_field_under_a_missing_parent_makes_no_parent(web, fresh):
    web.post(f"/v2/{P}/queues", json={"name": NEW})
    got = web.patch(f"/v2/{NEW}?updateMask=httpTarget.uriOverride.port", json={}).get_json()
    assert "httpTarget" not in got


def test_an_empty_message_in_an_update_keeps_a_whole_queue(web, fresh):
    got = web.patch(f"/v2/{Q}", json={"rateLimits": {}, "retryConfig": {}}).get_json()
    assert got["rateLimits"]["maxDispatchesPerSecond"] == 500.0 and got["retryConfig"]["maxDoublings"] == 16


# --- what is missing, and what no route answers ------------------------------------------------------

MISSING = f"{P}/queues/missing"


@pytest.mark.parametrize("method, verb, path, body, message", [
    ("queues.get", "GET", f"/v2/{MISSING}", None, "Queue does not exist"),
    ("queues.delete", "DELETE", f"/v2/{MISSING}", None, "Queue does not exist"),
    ("queues.pause", "POST", f"/v2/{MISSING}:pause", {}, "Queue does not exist"),
    ("queues.resume", "POST", f"/v2/{MISSING}:resume", {}, "Queue does not exist"),
    ("queues.purge", "POST", f"/v2/{MISSING}:purge", {}, "Queue does not exist"),
    ("queues.getIamPolicy", "POST", f"/v2/{MISSING}:getIamPolicy", {}, "Queue does not exist"),
    ("queues.setIamPolicy", "POST", f"/v2/{MISSING}:setIamPolicy", {}, "Queue does not exist"),
    ("queues.testIamPermissions", "POST", f"/v2/{MISSING}:testIamPermissions", {}, "Queue does not exist"),
    ("queues.tasks.create", "POST", f"/v2/{MISSING}/tasks", METHODS["queues.tasks.create"][2], "Queue does not exist"),
    ("queues.tasks.list", "GET", f"/v2/{MISSING}/tasks", None, "Queue does not exist"),
    ("queues.tasks.batchCreate", "POST", f"/v2/{MISSING}/tasks:batchCreate", METHODS["queues.tasks.batchCreate"][2],
     "Queue does not exist"),
    ("queues.tasks.batchDelete", "POST", f"/v2/{MISSING}/tasks:batchDelete", {"names": [f"{MISSING}/tasks/t"]},
     "Queue does not exist"),
    ("queues.tasks.buffer", "POST", f"/v2/{MISSING}/tasks/b:buffer", {}, "Queue does not exist"),
    ("queues.tasks.get", "GET", f"/v2/{Q}/tasks/missing", None, "Requested entity was not found."),
    ("queues.tasks.delete", "DELETE", f"/v2/{Q}/tasks/missing", None, "Requested entity was not found."),
    ("queues.tasks.run", "POST", f"/v2/{Q}/tasks/missing:run", {}, "Requested entity was not found."),
    ("operations.get", "GET", f"/v2/{P}/operations/12345", None, "Requested entity was not found."),
    ("operations.get", "GET", f"/v2/{P}/operations/..", None, "Requested entity was not found."),
])
def test_what_does_not_exist_is_404(web, store, method, verb, path, body, message):
    refused(web, store, verb, path, body, 404, "NOT_FOUND", message)


def test_a_verb_a_method_does_not_take_is_405(web, store):
    refused(web, store, "PUT", f"/v2/{Q}", {}, 405, "UNIMPLEMENTED", "not allowed")


def test_a_body_over_the_limit_is_413_before_it_is_read(web, store):
    big = b'{"task": {"httpRequest": {"url": "http://x/", "body": "' + b"A" * MAX_REQUEST_BYTES + b'"}}}'
    refused(web, store, "POST", f"/v2/{Q}/tasks", big, 413, "INVALID_ARGUMENT", "at most")


def test_a_buffer_needs_a_queue_with_an_http_target_host(web, fresh, store):
    web.post(f"/v2/{P}/queues", json={"name": NEW})
    refused(web, store, "POST", f"/v2/{NEW}/tasks/b:buffer", {}, 400, "INVALID_ARGUMENT", "uriOverride with a host",
            baseline=snapshot(store))


def test_every_method_of_the_document_is_covered():
    from queueservice.engine.discovery import load_document
    from harness.servers import REPO

    document = load_document(REPO / "queueservice" / "apis" / "cloudtasks_v2.api")
    ids = {m.id.removeprefix("cloudtasks.projects.locations.") for m in document.methods}
    assert len(ids) == 24 and ids == set(METHODS) and ids <= COVERED
