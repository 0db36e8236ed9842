"""The admin API of this server (JSON): queues with their counts, tasks by state, dead letters,
history, purge, release. The CLI is built on it; the module also hands the engine the
dashboard's pages and the queue metrics of the operator layer.
"""

from __future__ import annotations

import base64

from queueservice.stores.pullqueue.backend import Backend, create_backend  # noqa: F401 (the engine's hook)
from queueservice.stores.pullqueue.rules import project_id, queue_config, task_name
from queueservice.stores.pullqueue.store import Task, state_of
from queueservice.errors import InvalidArgument, NotFound


def web_pages(backend: Backend):
    """The dashboard, served by the same process at /dashboard."""
    from queueservice.operator.dashboard import blueprint

    return blueprint(backend)


def metrics_collector(backend: Backend):
    """Tasks by state per queue, read from Redis when Prometheus scrapes."""
    from queueservice.operator.metrics import QueueCollector

    return QueueCollector(backend.store, backend.forgetter)


def keys_for(backend: Backend, project: str, queue: str):
    config = queue_config(backend.queues, queue, location="queue")
    return backend.store.keys(project_id(project), queue), config


def summary(backend: Backend, keys, config=None) -> dict:
    config = config or backend.queues.resolve(keys.queue)
    stats = backend.store.stats(keys)
    return {"project": keys.project, "queue": keys.queue, "total": stats.total_tasks,
            "available": stats.available, "leased": stats.leased, "delayed": stats.delayed,
            "dead": stats.dead_lettered, "leasedLastMinute": stats.leased_last_minute,
            "leasedLastHour": stats.leased_last_hour, "oldestTask": stats.oldest_task_usec,
            "maxLeases": config.max_leases}


def task_json(task: Task, state: str) -> dict:
    out = {"id": task.name, "state": state, "retryCount": task.retry_count,
           "enqueueTimestamp": task.enqueue_usec, "leaseTimestamp": task.lease_usec}
    if task.tag:
        out["tag"] = task.tag.decode("utf-8", "replace")
    if task.payload is not None:
        out["payloadBase64"] = base64.b64encode(task.payload).decode("ascii")
        out["payloadSize"] = len(task.payload)
    return out


def event_json(event) -> dict:
    return {"task": event.task, "event": event.event, "retryCount": event.retry_count, "at": event.at_usec}


def queues_list(backend):
    items = []
    for keys in backend.store.queues():
        try:
            items.append(summary(backend, keys))
        except (NotFound, InvalidArgument):  # a queue no longer in QUEUE_CONFIG is left out
            continue
    return {"items": items}


def queues_get(backend, project, queue):
    keys, config = keys_for(backend, project, queue)
    return summary(backend, keys, config)


def queues_purge(backend, project, queue, limit):
    keys, _ = keys_for(backend, project, queue)
    deleted, remaining = backend.store.purge_step(keys, limit)
    return {"deleted": deleted, "remaining": remaining}


def queues_requeue_dead(backend, project, queue, limit):
    keys, _ = keys_for(backend, project, queue)
    page = backend.store.browse(keys, "dead", 0, limit)
    for task in page.tasks:
        backend.store.requeue(keys, task.name)
    return {"requeued": len(page.tasks)}


def queues_history(backend, project, queue, limit, task=None):
    keys, _ = keys_for(backend, project, queue)
    if task is not None:
        task_name(task)
    return {"items": [event_json(e) for e in backend.store.history(keys, task, limit)]}


def tasks_list(backend, project, queue, state, offset, limit, tag=None):
    keys, _ = keys_for(backend, project, queue)
    page = backend.store.browse(keys, state, offset, limit,
                                tag=tag.encode("utf-8", "surrogatepass") if tag is not None else None)
    out = {"items": [task_json(t, "dead" if state == "dead" else state_of(t, page.now_usec)) for t in page.tasks],
           "offset": offset}
    if page.total is not None:
        out["total"] = page.total
    return out


def tasks_get(backend, project, queue, task):
    keys, _ = keys_for(backend, project, queue)
    found, state, _ = backend.store.inspect(keys, task_name(task))
    out = task_json(found, state)
    out["history"] = [event_json(e) for e in backend.store.history(keys, found.name, 100)
                      if e.at_usec >= found.enqueue_usec]  # not a deleted task of the same name
    return out


def tasks_delete(backend, project, queue, task):
    keys, _ = keys_for(backend, project, queue)
    backend.store.delete(keys, task_name(task))
    return None


def tasks_release(backend, project, queue, task):
    keys, _ = keys_for(backend, project, queue)
    backend.store.renew(keys, task_name(task), 0)
    found, state, _ = backend.store.inspect(keys, task)
    return task_json(found, state)


def tasks_requeue(backend, project, queue, task):
    keys, _ = keys_for(backend, project, queue)
    backend.store.requeue(keys, task_name(task))
    found, state, _ = backend.store.inspect(keys, task)
    return task_json(found, state)


def queues_clear_tombstones(backend, project, queue):
    keys, _ = keys_for(backend, project, queue)
    return {"cleared": backend.store.clear_tombstones(keys)}


def tombstones_clear(backend):
    return {"cleared": backend.store.clear_all_tombstones()}
