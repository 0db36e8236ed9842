"""Google App Engine TaskQueue REST API v1beta2 (pull queues), behaving as Google's did.

Handlers get checked, typed arguments from the engine and return JSON-able dicts. The
rules this API adds beyond the document's types live here, one named function per rule.
"""

from __future__ import annotations

import base64
import binascii
import re

from queueservice.stores.pullqueue.backend import Backend, create_backend  # noqa: F401 (the engine's hook)
from queueservice.stores.pullqueue.queues import QueueConfig
from queueservice.stores.pullqueue.rules import MAX_PAYLOAD_BYTES, new_task_name, project_id, shown, tag_bytes, task_name
from queueservice.stores.pullqueue.rules import queue_config as _queue_config
from queueservice.stores.pullqueue.store import Task
from queueservice.errors import InvalidArgument, PayloadTooLarge, RequiredArgument

MAX_LIST_TASKS = 1000
#: Larger ETAs would lose precision as sorted-set scores (doubles).
MAX_TIMESTAMP_USEC = 2**53 - 1

_QUEUE_PATH = re.compile(r"projects/([^/]+)/taskqueues/([^/]+)")


# --- rules -------------------------------------------------------------------------------

def queue_config(backend: Backend, name: str) -> QueueConfig:
    return _queue_config(backend.queues, name)


def decode_payload(text: str | None) -> tuple:
    """Base64 in either alphabet, padding optional, whitespace ignored -> (bytes, urlsafe)."""
    if text is None:
        raise RequiredArgument("Required field: payloadBase64", location="payloadBase64", location_type="body")
    if len(text) > (MAX_PAYLOAD_BYTES * 4) // 3 * 11 // 10 + 1024:
        raise PayloadTooLarge(f"Task payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    compact = re.sub(r"\s+", "", text)
    urlsafe = "-" in compact or "_" in compact
    if urlsafe and ("+" in compact or "/" in compact):
        raise InvalidArgument("payloadBase64 mixes the standard and URL-safe base64 alphabets",
                              location="payloadBase64", location_type="body")
    standard = compact.translate(str.maketrans("-_", "+/")) if urlsafe else compact
    standard += "=" * (-len(standard) % 4)
    try:
        payload = base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("payloadBase64 is not valid base64", location="payloadBase64",
                              location_type="body") from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"Task payload is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES} "
                              "are allowed")
    return payload, urlsafe


def eta_usec(value: int | None) -> int:
    """leaseTimestamp on insert: when the task first becomes available (µs since the epoch)."""
    if value is None or value == 0:
        return 0
    if not 0 < value <= MAX_TIMESTAMP_USEC:
        raise InvalidArgument(f"leaseTimestamp {value} is out of range: give microseconds since "
                              "the epoch", location="leaseTimestamp", location_type="body")
    return value


def same_queue(body: dict, project: str, queue: str) -> None:
    """A body's queueName, when given, names the queue of the URL: short or long form
    (`projects/<project>/taskqueues/<queue>`, the project with or without its partition)."""
    given = body.get("queueName")
    if given in (None, ""):
        return
    match = _QUEUE_PATH.fullmatch(given)
    same = (given == queue if not match else
            match.group(2) == queue and _same_project(match.group(1), project))
    if not same:
        raise InvalidArgument(f"queueName '{shown(given)}' does not match the queue {queue} of the "
                              "request", location="queueName", location_type="body")


def _same_project(given: str, project: str) -> bool:
    try:
        return project_id(given) == project_id(project)
    except InvalidArgument:
        return False


def tag_filter(group_by_tag: bool | None, tag: str | None) -> tuple:
    """(tag bytes or None, first_tag): `tag` needs groupByTag, as in App Engine."""
    if tag is not None and not group_by_tag:
        raise InvalidArgument("Tag specified, but groupByTag was not", location="tag")
    if group_by_tag:
        return (tag_bytes(tag), False) if tag is not None else (None, True)
    return None, False


def _keys(backend: Backend, project: str, taskqueue: str):
    queue_config(backend, taskqueue)
    return backend.store.keys(project_id(project), taskqueue)


# --- answers -----------------------------------------------------------------------------

def wire_int64(backend: Backend, value: int):
    """An int64 field as Google sent it: a JSON string (generated Go and Java clients refuse a
    bare number there); a JSON number under TASKQUEUE_COMPAT=render, as the first emulator did."""
    return value if backend.compat == "render" else str(value)


def long_queue_name(project: str, queue: str) -> str:
    """`projects/<project as the caller wrote it>/taskqueues/<queue>`: Google's form for a
    leased task's queueName and a queue's id (clients parse it, or use it as the queue's path)."""
    return f"projects/{project}/taskqueues/{queue}"


def task_json(backend: Backend, task: Task, queue_name: str, *, payload: bool = True) -> dict:
    out = {"kind": "taskqueues#task", "id": task.name, "queueName": queue_name}
    if payload and task.payload is not None:
        encode = base64.urlsafe_b64encode if task.urlsafe else base64.b64encode
        out["payloadBase64"] = encode(task.payload).decode("ascii")
    out["enqueueTimestamp"] = wire_int64(backend, task.enqueue_usec)
    out["leaseTimestamp"] = wire_int64(backend, task.lease_usec)
    out["retry_count"] = task.retry_count
    if task.tag:
        out["tag"] = task.tag.decode("utf-8", "replace")
    return out


def task_list(backend: Backend, kind: str, items: list) -> dict:
    """Google left `items` out of an empty answer (clients loop `while 'items' in answer`); the
    first emulator always sent it, and the render daemon reads it unguarded."""
    return {"kind": kind, "items": items} if items or backend.compat == "render" else {"kind": kind}


# --- methods -----------------------------------------------------------------------------

def taskqueues_get(backend, project, taskqueue, get_stats=None):
    config = queue_config(backend, taskqueue)
    keys = backend.store.keys(project_id(project), taskqueue)
    out = {"kind": "taskqueues#taskqueue", "id": long_queue_name(project, taskqueue)}
    if config.max_leases:
        out["maxLeases"] = config.max_leases
    out["acl"] = config.acl
    if get_stats:
        stats = backend.store.stats(keys)
        out["stats"] = {"totalTasks": stats.total_tasks,
                        # Seconds, as the document says: clients test 0 < oldestTask < time.time().
                        "oldestTask": wire_int64(backend, stats.oldest_task_usec // 1_000_000),
                        "leasedLastMinute": wire_int64(backend, stats.leased_last_minute),
                        "leasedLastHour": wire_int64(backend, stats.leased_last_hour)}
    return out


def tasks_insert(backend, project, taskqueue, body):
    keys = _keys(backend, project, taskqueue)
    same_queue(body, project, taskqueue)
    name = body.get("id")
    name = task_name(name, "id") if name not in (None, "") else new_task_name()
    payload, urlsafe = decode_payload(body.get("payloadBase64"))
    task = backend.store.insert(keys, name, payload, tag=tag_bytes(body.get("tag")),
                                eta_usec=eta_usec(body.get("leaseTimestamp")), urlsafe=urlsafe)
    return task_json(backend, task, taskqueue)


def tasks_get(backend, project, taskqueue, task):
    keys = _keys(backend, project, taskqueue)
    return task_json(backend, backend.store.get(keys, task_name(task)), taskqueue)


def tasks_delete(backend, project, taskqueue, task):
    keys = _keys(backend, project, taskqueue)
    backend.store.delete(keys, task_name(task))
    return None


def tasks_list(backend, project, taskqueue):
    keys = _keys(backend, project, taskqueue)
    if backend.compat == "render":  # the first emulator: lease's kind, payloads included
        tasks = backend.store.list(keys, MAX_LIST_TASKS, payloads=True)
        return task_list(backend, "taskqueue#tasks", [task_json(backend, t, taskqueue) for t in tasks])
    tasks = backend.store.list(keys, MAX_LIST_TASKS)
    return task_list(backend, "taskqueues#tasks", [task_json(backend, t, taskqueue, payload=False) for t in tasks])


def tasks_lease(backend, project, taskqueue, num_tasks, lease_secs, group_by_tag=None, tag=None):
    config = queue_config(backend, taskqueue)
    keys = backend.store.keys(project_id(project), taskqueue)
    only_tag, first_tag = tag_filter(group_by_tag, tag)
    result = backend.store.lease(keys, num_tasks, lease_secs, tag=only_tag, first_tag=first_tag,
                                 max_leases=config.max_leases)
    queue_name = long_queue_name(project, taskqueue)
    return task_list(backend, "taskqueue#tasks", [task_json(backend, t, queue_name) for t in result.tasks])


def _change_lease(backend, project, taskqueue, name, new_lease_seconds, body):
    keys = _keys(backend, project, taskqueue)
    same_queue(body, project, taskqueue)
    expected = body.get("leaseTimestamp") or None
    renewed = backend.store.renew(keys, name, new_lease_seconds, expected_lease_usec=expected)
    return task_json(backend, renewed, long_queue_name(project, taskqueue))


def tasks_update(backend, project, taskqueue, task, new_lease_seconds, body):
    """The task named in the body wins over the URL's, as AppScale reports Google did."""
    name = body.get("id")
    name = task_name(name, "id") if name not in (None, "") else task_name(task)
    return _change_lease(backend, project, taskqueue, name, new_lease_seconds, body)


def tasks_patch(backend, project, taskqueue, task, new_lease_seconds, body):
    name = task_name(task)
    if body.get("id") not in (None, "", name):
        raise InvalidArgument(f"Body id '{shown(str(body['id']))}' does not match the task {name} "
                              "of the request", location="id", location_type="body")
    return _change_lease(backend, project, taskqueue, name, new_lease_seconds, body)
