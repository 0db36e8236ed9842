"""Google Cloud Tasks v2 (push queues), behaving as Google's does (guide sections 1, 2 and 8).

Handlers get typed values from the engine (times and durations in µs, bodies as bytes, enums by
name) and return the same; the engine writes Google's wire forms. Queues and tasks live in the
push-queue store; the dispatcher (a background service) sends them.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from queueservice.dispatch.dispatcher import Dispatcher
from queueservice.dispatch.oidc import Signer
from queueservice.dispatch.requests_for import parse_service_urls
from queueservice.engine.binding import Alias
from queueservice.engine.formats import format_datetime
from queueservice.errors import ApiError, Code, InvalidArgument, NotFound, StartupError
from queueservice.redis_helpers.clock import Clock
from queueservice.stores.pushqueue import queues as resources
from queueservice.stores.pullqueue.backend import create_backend as pull_queues
from queueservice.stores.pushqueue.operator_view import PushQueues
from queueservice.stores.pushqueue.store import PushQueueStore, QueueExists, QueueNotFound

ERROR_FORMAT = "v2"
EMPTY_ANSWER = {}
INT64_AS_STRINGS = True

SECOND = 1_000_000
MAX_SCHEDULE_AHEAD_USEC = 30 * 86400 * SECOND
DEFAULT_DEADLINE_USEC = 600 * SECOND
HTTP_DEADLINE_RANGE = (15 * SECOND, 1800 * SECOND)
APP_ENGINE_DEADLINE_RANGE = (15 * SECOND, (86400 + 15) * SECOND)
MAX_TASK_BYTES = 1024 * 1024
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")
LOCATIONS = ("us-central1",)
BODY_METHODS = ("POST", "PUT", "PATCH")
#: How far this machine's clock may run ahead of the store's before a schedule check reads it.
CLOCK_MARGIN_USEC = 3600 * 1_000_000
APP_ENGINE_USER_AGENT = "AppEngine-Google; (+http://code.google.com/appengine)"
OPERATION_TTL_SECS = 86400
MAX_HEADER_BYTES = 80 * 1024
MAX_BATCH_CREATE = 100
MAX_BATCH_DELETE = 1000
MAX_QUEUES_PAGE = 9800
MAX_TASKS_PAGE = 1000
POLICY_VERSIONS = (0, 1, 3)
KMS_KEY = re.compile(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+")


class Backend:
    """The push-queue service: the store, and the dispatcher that sends its tasks."""

    def __init__(self, services):
        settings = services.settings
        clock = services.get("clock", lambda s: Clock(s.redis))
        self.redis = services.redis
        self.store = PushQueueStore(services.redis, recreate_window_secs=settings.queue_recreate_secs,
                                    tombstone_secs=settings.task_tombstone_secs, clock=clock,
                                    finished_secs=settings.finished_task_secs)
        try:
            urls = parse_service_urls(settings.app_engine_service_urls)
        except ValueError as exc:
            raise SystemExit(f"queueservice: {exc}") from None
        self._issuer = settings.oidc_issuer or f"http://localhost:{settings.port}"
        self.functions_url = settings.firebase_functions_url.rstrip("/")
        self._signer = None
        self.dispatcher = Dispatcher(self.store, urls, settings.app_engine_url,
                                     token_for=lambda audience, email: self.signer().token(audience, email))
        self.operator_kind = PushQueues(self.store, self.dispatcher)
        # queue.yaml's push queues: they exist in any project and location a client names.
        self.catalog = pull_queues(services).queues
        for queue in (self.catalog.configured or {}).values():
            if queue.mode == "push":  # a bad push queue stops start-up, not its first use
                try:
                    resources.from_queue_yaml(queue.entry, f"projects/p/locations/l/queues/{queue.name}")
                except InvalidArgument as exc:
                    raise StartupError(f"QUEUE_CONFIG {self.catalog.source}: {exc.message}") from None

    def signer(self) -> Signer:
        """The OIDC signer, made on first use (its key is made once per Redis)."""
        if self._signer is None:
            self._signer = Signer(self.redis, self._issuer)
        return self._signer

    def start(self) -> None:
        self.dispatcher.start()

    def stop(self) -> None:
        self.dispatcher.stop()

    def health(self) -> dict:
        return {"status": "ok"}


def create_backend(services) -> Backend:
    return services.get("pushqueue", Backend)


def web_pages(backend: Backend):
    """Where handlers find the keys of the OIDC tokens the dispatcher signs (as Google publishes its own)."""
    from flask import Blueprint

    from queueservice.engine.responses import json_response

    pages = Blueprint("oidc", __name__)
    pages.add_url_rule("/.well-known/openid-configuration", "discovery",
                       lambda: json_response(backend.signer().discovery()))
    pages.add_url_rule("/oauth2/v3/certs", "jwks", lambda: json_response(backend.signer().jwks()))
    pages.add_url_rule("/oauth2/v1/certs", "pem_certs", lambda: json_response(backend.signer().pem_certs()))
    return pages


# --- rules -------------------------------------------------------------------------------------

def _parent_of_queue(name: str) -> str:
    project, location, _ = resources.split_name(name)
    return f"projects/{project}/locations/{location}"


def _document():
    """This API's discovery document, as the engine loaded it from the `.api` file."""
    global _DOCUMENT
    if _DOCUMENT is None:
        from queueservice.engine.discovery import load_document

        _DOCUMENT = load_document(Path(__file__).with_suffix(".api"))
    return _DOCUMENT


_DOCUMENT = None


def _known_fields_only(body: dict, schema_name: str, at: str = "") -> None:
    """Google parses a request body as its protobuf message and refuses a name the message lacks
    (the engine lets such names through); taken, it would be stored and echoed back as it came."""
    schemas = _document().schemas
    _refuse_unknown(body, {"$ref": schema_name}, schemas, at)


def _refuse_unknown(value, spec: dict, schemas: dict, at: str) -> None:
    if "$ref" in spec:
        spec = schemas.get(spec["$ref"], {})
    if isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_unknown(item, spec.get("items", {}), schemas, f"{at}[{index}]")
        return
    if not isinstance(value, dict) or spec.get("type", "object") != "object":
        return
    props, extra = spec.get("properties", {}), spec.get("additionalProperties")
    for key, item in value.items():
        if key in props:
            _refuse_unknown(item, props[key], schemas, f"{at}.{_snake(key)}" if at else _snake(key))
        elif not isinstance(extra, dict):
            where = f" at '{at}'" if at else ""
            raise InvalidArgument(f'Invalid JSON payload received. Unknown name "{key[:100]}"{where}: '
                                  "Cannot find field.")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _check_update_mask(paths: list | None, schema_name: str) -> None:
    """Each path of an updateMask names a field of the resource, through its messages only."""
    schemas = _document().schemas
    for path in paths or []:
        spec = {"$ref": schema_name}
        for part in path.split("."):
            if "$ref" in spec:
                spec = schemas.get(spec["$ref"], {})
            props = spec.get("properties") if spec.get("type", "object") == "object" else None
            if not props or part not in props:
                raise InvalidArgument(f"updateMask names an unknown field: {path[:200]}")
            spec = props[part]


def _page(offset_token: str | None) -> int:
    """The offset a pageToken of this server holds (a decimal number in URL-safe base64)."""
    if not offset_token:
        return 0
    try:
        text = base64.urlsafe_b64decode(offset_token.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError):
        text = ""
    if not re.fullmatch(r"[0-9]{1,10}", text) or int(text) > 2**31 - 1:
        raise InvalidArgument("pageToken is not a token this server gave")
    return int(text)


def _page_size(page_size: int | None, most: int) -> int:
    """pageSize as Google takes it: unset or 0 is the most a page holds, more is capped to it."""
    if page_size is not None and page_size < 0:
        raise InvalidArgument(f"pageSize must not be negative, not {page_size}")
    return min(page_size or most, most)


def _split_task_name(name: str) -> tuple:
    queue, sep, task_id = name.rpartition("/tasks/")
    if not sep:
        raise InvalidArgument('Task name must be formatted: '
                              '"projects/<PROJECT_ID>/locations/<LOCATION_ID>/queues/<QUEUE_ID>/tasks/<TASK_ID>".')
    resources.split_name(queue)
    _check_task_id(task_id)
    return queue, task_id


def _check_task_id(task_id: str) -> None:
    if not TASK_ID.fullmatch(task_id or ""):
        raise InvalidArgument(f'Task ID "{task_id}" can contain only letters ([A-Za-z]), numbers ([0-9]), '
                              "hyphens (-), or underscores (_). Task ID must between 1 and 500 characters.")


def _stored_target(task: dict) -> dict:
    """The task's target as stored: body in base64, headers with the defaults Google materialises."""
    if ("httpRequest" in task) == ("appEngineHttpRequest" in task):
        raise InvalidArgument("A task needs exactly one of httpRequest and appEngineHttpRequest")
    if "httpRequest" in task:
        spec = dict(task["httpRequest"])
        url = spec.get("url") or ""
        if not url.startswith(("http://", "https://")) or len(url) > 2083 or not _has_host_and_port(url) \
                or " " in url or resources.has_control_characters(url):
            raise InvalidArgument("httpRequest.url must be an http:// or https:// URL of at most 2083 characters, "
                                  "with a host and without spaces or control characters")
        if spec.get("oauthToken") and spec.get("oidcToken"):
            raise InvalidArgument("httpRequest can have an oauthToken or an oidcToken, not both")
        kind = "httpRequest"
        headers = {k: v for k, v in (spec.get("headers") or {}).items() if k.lower() != "user-agent"}
        headers["User-Agent"] = "Google-Cloud-Tasks"
    else:
        spec = dict(task["appEngineHttpRequest"])
        uri = spec.get("relativeUri") or "/"
        if not uri.startswith("/") or " " in uri or len(uri) > 2083 or resources.has_control_characters(uri):
            raise InvalidArgument("appEngineHttpRequest.relativeUri must start with / and hold no spaces")
        spec["relativeUri"] = uri
        kind = "appEngineHttpRequest"
        headers = dict(spec.get("headers") or {})
        agent = headers.pop("User-Agent", None) or headers.pop("user-agent", None)
        headers["User-Agent"] = f"{agent} {APP_ENGINE_USER_AGENT}" if agent else APP_ENGINE_USER_AGENT
        if spec.get("body"):
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/octet-stream"
            headers["Content-Length"] = str(len(spec["body"]))
    _check_headers(headers, kind)
    method = spec.get("httpMethod") or "POST"
    if method == "HTTP_METHOD_UNSPECIFIED":
        method = "POST"
    body = spec.get("body") or b""
    if body and method not in BODY_METHODS:
        raise InvalidArgument(f"A task with httpMethod {method} cannot have a body")
    if len(body) > MAX_TASK_BYTES:
        raise InvalidArgument(f"Task size is larger than the maximum of {MAX_TASK_BYTES} bytes")
    spec.update(httpMethod=method, headers=headers)
    if body:
        spec["body"] = base64.b64encode(body).decode("ascii")
    else:
        spec.pop("body", None)
    return {kind: spec}


def _has_host_and_port(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return False
    return bool(parts.hostname)


def _check_headers(headers: dict, kind: str) -> None:
    for key, value in headers.items():
        resources.check_header(key, value, f"{kind}.headers")
    if sum(len(k) + len(v) for k, v in headers.items()) >= MAX_HEADER_BYTES:
        raise InvalidArgument(f"{kind}.headers must be less than 80 KB in all")


def _deadline(task: dict) -> int:
    given = task.get("dispatchDeadline")
    if not given:
        return DEFAULT_DEADLINE_USEC
    low, high = HTTP_DEADLINE_RANGE if "httpRequest" in task else APP_ENGINE_DEADLINE_RANGE
    if not low <= given <= high:
        raise InvalidArgument(f"dispatchDeadline must be between {low // SECOND}s and {high // SECOND}s")
    return given // 1000 * 1000  # truncated to milliseconds, as Google does


def _rpc_status(http_status: int) -> dict:
    for code in Code:
        if code.http_status == http_status:
            return {"code": code.grpc, "message": code.name}
    return {"code": Code.UNKNOWN.grpc if http_status >= 500 else Code.FAILED_PRECONDITION.grpc,
            "message": f"HTTP {http_status}"}


def task_resource(stored, view: str | None) -> dict:
    """The Task as the API answers it; BASIC leaves an App Engine task's body out, as Google does."""
    view = "FULL" if view == "FULL" else "BASIC"
    task, a = stored.task, stored.attempts
    out = {"name": task["name"]}
    for kind in ("httpRequest", "appEngineHttpRequest"):
        if kind in task:
            spec = dict(task[kind])
            if "body" in spec:
                if kind == "appEngineHttpRequest" and view == "BASIC":
                    del spec["body"]
                else:
                    spec["body"] = base64.b64decode(spec["body"])
            out[kind] = spec
    out.update(scheduleTime=stored.due_usec or a.last_schedule_usec,
               createTime=stored.created_usec // SECOND * SECOND,
               dispatchDeadline=a.deadline_usec, dispatchCount=a.dispatches, responseCount=a.responses,
               view=view)
    if task.get("retryConfig"):
        out["retryConfig"] = task["retryConfig"]
    if a.first_dispatch_usec:
        out["firstAttempt"] = {"dispatchTime": a.first_dispatch_usec}
    if a.last_dispatch_usec:
        last = {"scheduleTime": a.last_schedule_usec, "dispatchTime": a.last_dispatch_usec}
        if a.last_response_usec:
            last["responseTime"] = a.last_response_usec
            if a.last_status >= 0:
                last["responseStatus"] = _rpc_status(a.last_status)
        out["lastAttempt"] = last
    return out


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _queue(backend: Backend, name: str):
    """The stored queue; a push queue of QUEUE_CONFIG is made on first use in any project and
    location, as `gcloud app deploy queue.yaml` would have made it."""
    try:
        return backend.store.get(name)
    except QueueNotFound:
        configured = backend.catalog.push_queue(resources.split_name(name)[2])
        if configured is None:
            raise
        try:
            return backend.store.create(resources.from_queue_yaml(configured.entry, name))
        except QueueExists:  # another process made it meanwhile
            return backend.store.get(name)


def _create_task(backend: Backend, parent: str, task: dict) -> dict:
    """One round trip to Redis in the usual case: the queue's existence is checked by the create
    script, and the store's clock is read only for a schedule near the 30-day limit."""
    resources.split_name(parent)
    name = task.get("name")
    if name:
        queue, task_id = _split_task_name(name)
        if queue != parent:
            raise InvalidArgument(f"The queue name from request ('{parent}') must be the same as the queue name "
                                  f"in the named task ('{queue}').")
    else:
        task_id = None
    due = task.get("scheduleTime") or 0
    # The store's clock is never behind this machine's by more than the margin (tests only move it
    # forward; Redis TIME and ours agree closely), so a schedule well inside the limit needs no read.
    if due > time.time() * 1e6 + MAX_SCHEDULE_AHEAD_USEC - CLOCK_MARGIN_USEC \
            and due > backend.store.clock.now_usec() + MAX_SCHEDULE_AHEAD_USEC:
        raise InvalidArgument("scheduleTime must be at most 30 days from now")
    stored = {**_stored_target(task)}
    if task.get("retryConfig"):
        resources.check({"retryConfig": task["retryConfig"]})  # the queue's ranges hold for a task's own
        stored["retryConfig"] = task["retryConfig"]
    deadline = _deadline(task)
    try:
        return backend.store.create_task(parent, task_id, stored, due, deadline)  # wakes the dispatchers
    except QueueNotFound:
        _queue(backend, parent)  # a queue of QUEUE_CONFIG is made on first use; others stay not found
        return backend.store.create_task(parent, task_id, stored, due, deadline)


# --- locations and CMEK ------------------------------------------------------------------------

def projects_locations_get(backend, name):
    _, location = resources.split_location(name)
    return {"name": name, "locationId": location, "labels": {"cloud.googleapis.com/region": location}}


def projects_locations_list(backend, name, extra_location_types=None, filter=None, page_size=None,
                            page_token=None):
    resources.check_project(name.removeprefix("projects/"))
    _page(page_token)  # one page holds every location, yet a token or size must still be one
    _page_size(page_size, len(LOCATIONS))
    return {"locations": [projects_locations_get(backend, f"{name}/locations/{loc}") for loc in LOCATIONS]}


def projects_locations_get_cmek_config(backend, name):
    resources.split_location(name.removesuffix("/cmekConfig"))
    key = backend.redis.hget("ct:cmek", name)
    return {"name": name, **({"kmsKey": key.decode()} if key else {})}


def projects_locations_update_cmek_config(backend, name, body, update_mask=None):
    resources.split_location(name.removesuffix("/cmekConfig"))
    _known_fields_only(body, "CmekConfig", "cmek_config")
    _check_update_mask(update_mask, "CmekConfig")
    if update_mask and "kmsKey" not in update_mask:
        return projects_locations_get_cmek_config(backend, name)  # the mask names nothing it may change
    key = body.get("kmsKey")
    if key and not KMS_KEY.fullmatch(key):
        raise InvalidArgument("kmsKey must be a Cloud KMS key name: "
                              "projects/<PROJECT>/locations/<LOCATION>/keyRings/<KEY_RING>/cryptoKeys/<KEY>")
    if key:
        backend.redis.hset("ct:cmek", name, key)
    else:
        backend.redis.hdel("ct:cmek", name)
    return projects_locations_get_cmek_config(backend, name)


def projects_locations_operations_get(backend, name):
    resources.split_location(name.partition("/operations/")[0])
    raw = backend.redis.get("ct:operation:" + name)
    if raw is None:
        raise NotFound("Requested entity was not found.")
    return json.loads(raw)


# --- queues ------------------------------------------------------------------------------------

def projects_locations_queues_create(backend, parent, body):
    resources.split_location(parent)
    _known_fields_only(body, "Queue", "queue")
    name = body.get("name")
    if not name:
        raise InvalidArgument("Queue.name is required")
    if _parent_of_queue(name) != parent:
        raise InvalidArgument(f"The queue name ('{name}') must be in the parent of the request ('{parent}').")
    queue = resources.updated(resources.default_queue(name), body, None)
    return backend.store.create(queue).resource()


def projects_locations_queues_get(backend, name):
    return _queue(backend, name).resource()


def projects_locations_queues_list(backend, parent, filter=None, page_size=None, page_token=None):
    project, location = resources.split_location(parent)
    offset, size = _page(page_token), _page_size(page_size, MAX_QUEUES_PAGE)
    stored = backend.store.list(project, location, offset, size + 1)
    wanted_state = None
    if filter:
        match = re.fullmatch(r"\s*state\s*[:=]\s*\"?([A-Z]+)\"?\s*", filter)
        if not match:
            raise InvalidArgument(f"filter {filter!r} is not supported; use state: PAUSED (or RUNNING, DISABLED)")
        wanted_state = match.group(1)
    items = [q.resource() for q in stored[:size] if wanted_state in (None, q.state)]
    out = {"queues": items}
    if len(stored) > size:
        out["nextPageToken"] = _token(offset + size)
    return out


def projects_locations_queues_patch(backend, name, body, update_mask=None):
    resources.split_name(name)
    _known_fields_only(body, "Queue", "queue")
    _check_update_mask(update_mask, "Queue")
    return backend.store.update(
        name, lambda current: resources.updated(current or resources.default_queue(name), body, update_mask)).resource()


def projects_locations_queues_delete(backend, name):
    _queue(backend, name)
    backend.store.delete(name)


def projects_locations_queues_pause(backend, name, body):
    _known_fields_only(body, "PauseQueueRequest")
    _queue(backend, name)
    return backend.store.pause(name).resource()


def projects_locations_queues_resume(backend, name, body):
    _known_fields_only(body, "ResumeQueueRequest")
    _queue(backend, name)
    return backend.store.resume(name).resource()  # wakes the dispatchers


def projects_locations_queues_purge(backend, name, body):
    _known_fields_only(body, "PurgeQueueRequest")
    _queue(backend, name)
    return backend.store.purge(name).resource()


def _check_policy_version(version, where: str) -> None:
    if version is not None and version not in POLICY_VERSIONS:
        raise InvalidArgument(f"{where} must be 0, 1 or 3, not {version}")


def projects_locations_queues_get_iam_policy(backend, resource, body):
    _known_fields_only(body, "GetIamPolicyRequest")
    _check_policy_version((body.get("options") or {}).get("requestedPolicyVersion"), "options.requestedPolicyVersion")
    _queue(backend, resource)
    raw = backend.redis.hget("ct:iam", resource)
    return json.loads(raw) if raw else {"version": 1, "etag": b"\x00"}


def projects_locations_queues_set_iam_policy(backend, resource, body):
    _known_fields_only(body, "SetIamPolicyRequest")
    _check_policy_version((body.get("policy") or {}).get("version"), "policy.version")
    _queue(backend, resource)
    policy = {**(body.get("policy") or {}), "etag": secrets.token_bytes(8)}
    stored = {**policy, "etag": base64.b64encode(policy["etag"]).decode()}
    backend.redis.hset("ct:iam", resource, json.dumps(stored))
    return policy


def projects_locations_queues_test_iam_permissions(backend, resource, body):
    _known_fields_only(body, "TestIamPermissionsRequest")
    wild = [p for p in body.get("permissions") or [] if "*" in p]
    if wild:
        raise InvalidArgument(f"Permissions with wildcards are not allowed: {wild[0][:100]}")
    _queue(backend, resource)
    return {"permissions": list(body.get("permissions") or [])}


# --- tasks -------------------------------------------------------------------------------------

def projects_locations_queues_tasks_create(backend, parent, body):
    _known_fields_only(body, "CreateTaskRequest")
    task = body.get("task") or {}
    return task_resource(_create_task(backend, parent, task), body.get("responseView"))


def firebase_enqueue(backend, parent, body):
    """firebase-admin's `TaskQueue.enqueue` with CLOUD_TASKS_EMULATOR_HOST: a task queue function's
    queue exists once a task is sent to it (deploying the function made it on Google), and a task
    without a URL goes to that function in the Functions emulator."""
    try:
        _queue(backend, parent)
    except QueueNotFound:
        try:
            backend.store.create(resources.default_queue(parent))
        except QueueExists:  # another process made it meanwhile
            pass
    http = (body.get("task") or {}).get("httpRequest")
    if http is not None and not http.get("url"):
        project, location, queue = resources.split_name(parent)
        http["url"] = f"{backend.functions_url}/{project}/{location}/{queue}"
    return projects_locations_queues_tasks_create(backend, parent, body)


def _firebase_answer(task: dict) -> dict:
    """The Firebase emulator's answer, which firebase-admin reads: the task under `task`, its name
    with a leading slash (the client strips one character)."""
    return {"task": {**task, "name": "/" + task["name"]}}


#: firebase-admin's emulator paths (no `v2/`): enqueue and delete.
ALIASES = {"cloudtasks.projects.locations.queues.tasks.create": [Alias("{+parent}/tasks", firebase_enqueue,
                                                                      _firebase_answer)],
           "cloudtasks.projects.locations.queues.tasks.delete": [Alias("{+name}")]}


def projects_locations_queues_tasks_get(backend, name, response_view=None):
    queue, task_id = _split_task_name(name)
    return task_resource(backend.store.get_task(queue, task_id), response_view)


def projects_locations_queues_tasks_list(backend, parent, page_size=None, page_token=None, response_view=None):
    _queue(backend, parent)
    offset, size = _page(page_token), _page_size(page_size, MAX_TASKS_PAGE)
    tasks, total = backend.store.list_tasks(parent, offset, size)
    out = {"tasks": [task_resource(t, response_view) for t in tasks]}
    if offset + size < total:
        out["nextPageToken"] = _token(offset + size)
    return out


def projects_locations_queues_tasks_delete(backend, name):
    queue, task_id = _split_task_name(name)
    backend.store.delete_task(queue, task_id)


def projects_locations_queues_tasks_run(backend, name, body):
    """Sends now, even on a paused queue or past its rate limits; answers the task as claimed."""
    _known_fields_only(body, "RunTaskRequest")
    queue, task_id = _split_task_name(name)
    claimed = backend.store.run_task(queue, task_id)
    stored = backend.store.get_task(queue, task_id)  # read before sending: a success deletes it
    backend.dispatcher.send_soon(queue, claimed)
    return task_resource(stored, body.get("responseView"))


def _operation(backend, parent: str, kind: str, response: dict, failed: dict) -> dict:
    location = _parent_of_queue(parent)
    name = f"{location}/operations/{secrets.randbelow(10**19)}"
    now = backend.store.clock.now_usec()
    operation = {"name": name, "done": True,
                 "metadata": {"@type": "type.googleapis.com/google.cloud.tasks.v2.OperationMetadata",
                              "state": "PARTIALLY_SUCCEEDED" if failed else "SUCCEEDED",
                              "startTime": format_datetime(now), "endTime": format_datetime(now),
                              "failedRequests": failed},
                 "response": {"@type": f"type.googleapis.com/google.cloud.tasks.v2.{kind}", **response}}
    backend.redis.set("ct:operation:" + name, json.dumps(operation, default=str), ex=OPERATION_TTL_SECS)
    return operation


def _status_of(exc) -> dict:
    return {"code": exc.code.grpc, "message": exc.message}


def projects_locations_queues_tasks_batch_create(backend, parent, body):
    _known_fields_only(body, "BatchCreateTasksRequest")
    requests_ = body.get("requests") or []
    if not requests_:
        raise InvalidArgument("requests is required: a batch creates 1 to 100 tasks")
    if len(requests_) > MAX_BATCH_CREATE:
        raise InvalidArgument("A batch creates at most 100 tasks")
    _queue(backend, parent)
    created, failed = [], {}
    for index, request in enumerate(requests_):
        try:
            created.append(task_resource(_create_task(backend, parent, (request or {}).get("task") or {}),
                                         (request or {}).get("responseView")))
        except ApiError as exc:  # one failed request is reported, the others go on
            failed[str(index)] = _status_of(exc)
    return _operation(backend, parent, "BatchCreateTasksResponse", {"tasks": _wire_tasks(created)}, failed)


def _wire_tasks(tasks: list) -> list:
    """Tasks inside an Operation's untyped response, written as the engine writes any Task."""
    from queueservice.engine import wire

    return [wire.shape(task, "Task", _document(), int64_strings=INT64_AS_STRINGS) for task in tasks]


def projects_locations_queues_tasks_batch_delete(backend, parent, body):
    _known_fields_only(body, "BatchDeleteTasksRequest")
    names = body.get("names") or []
    if not names:
        raise InvalidArgument("names is required: a batch deletes 1 to 1000 tasks")
    if len(names) > MAX_BATCH_DELETE:
        raise InvalidArgument("A batch deletes at most 1000 tasks")
    _queue(backend, parent)
    failed = {}
    for index, name in enumerate(names):
        try:
            queue, task_id = _split_task_name(name)
            if queue != parent:  # a batch never reaches into another queue
                raise InvalidArgument(f"The queue name from request ('{parent}') must be the same as the queue "
                                      f"name in the named task ('{queue}').")
            backend.store.delete_task(queue, task_id)
        except ApiError as exc:  # batchDelete is not atomic: each failure is reported
            failed[str(index)] = _status_of(exc)
    return _operation(backend, parent, "BatchDeleteTasksResponse", {}, failed)


def projects_locations_queues_tasks_buffer(backend, queue, task_id, body):
    """A task for the queue's HTTP target, its body the request's."""
    _known_fields_only(body, "BufferTaskRequest")
    target = _queue(backend, queue).queue.get("httpTarget") or {}
    override = target.get("uriOverride") or {}
    if not override.get("host"):
        raise InvalidArgument("buffer needs a queue whose httpTarget has a uriOverride with a host")
    scheme = "http" if override.get("scheme") == "HTTP" else "https"
    port = f":{override['port']}" if override.get("port") else ""
    path = (override.get("pathOverride") or {}).get("path") or "/"
    query = (override.get("queryOverride") or {}).get("queryParams")
    url = f"{scheme}://{override['host']}{port}{path}" + (f"?{query}" if query else "")
    http_body = body.get("body") or {}
    request = {"url": url, "httpMethod": target.get("httpMethod") or "POST", "body": http_body.get("data") or b""}
    if http_body.get("contentType"):
        request["headers"] = {"Content-Type": http_body["contentType"]}
    task = {"httpRequest": request}
    if task_id and task_id != "-":
        task["name"] = f"{queue}/tasks/{task_id}"
    return {"task": task_resource(_create_task(backend, queue, task), "BASIC")}
