"""The pull queues as the operator tools see them (`queueservice.operator.interface.QueueKind`)."""

from __future__ import annotations

import base64

from queueservice.errors import ApiError, InvalidArgument
from queueservice.operator.interface import QueueRef

from .rules import MAX_PAYLOAD_BYTES, new_task_name, project_id, queue_config, tag_bytes, task_name
from .store import STATES, Task, state_of

#: Transitions kept in a task's view.
TASK_HISTORY = 100


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


class PullQueues:
    """App Engine pull queues: states available, leased, delayed and dead (dead letters)."""

    api = "taskqueue"
    states = STATES
    queue_actions: dict = {}
    task_actions = {"delete": "Deleted task {}.", "release": "Released the lease on task {}.",
                    "requeue": "Requeued task {}."}

    def __init__(self, store, catalog, forgetter=None):
        self._store = store
        self._catalog = catalog
        self._forgetter = forgetter

    def _keys(self, ref: QueueRef):
        return self._store.keys(ref.project, ref.queue)

    def _served(self, keys) -> bool:
        try:
            self._catalog.resolve(keys.queue)
        except ApiError:  # a queue no longer in QUEUE_CONFIG is left out
            return False
        return True

    def queues(self) -> list:
        keys = self._store.queues()
        if self._catalog.configured is not None:
            keys = [k for k in keys if self._served(k)]
        return [QueueRef(self.api, k.project, k.queue) for k in keys]

    def resolve(self, project: str, queue: str) -> QueueRef:
        queue_config(self._catalog, queue, location="queue")
        return QueueRef(self.api, project_id(project), queue)

    def summaries(self, refs: list, skip_idle: bool = False) -> list:
        """Counts of each queue, one round trip per 1000 queues (None for an idle one skipped)."""
        all_stats = self._store.summaries([self._keys(r) for r in refs], skip_idle=skip_idle)
        return [None if stats is None else self._summary(ref, stats) for ref, stats in zip(refs, all_stats)]

    def _summary(self, ref: QueueRef, stats) -> dict:
        return {"api": self.api, "project": ref.project, "queue": ref.queue, "total": stats.total_tasks,
                "available": stats.available, "leased": stats.leased, "delayed": stats.delayed,
                "dead": stats.dead_lettered, "leasedLastMinute": stats.leased_last_minute,
                "leasedLastHour": stats.leased_last_hour, "oldestTask": stats.oldest_task_usec,
                "maxLeases": self._catalog.resolve(ref.queue).max_leases}

    def browse(self, ref: QueueRef, state: str, offset: int, limit: int, tag: str | None) -> dict:
        if state not in self.states:
            raise InvalidArgument(f"state must be one of {', '.join(self.states)}", location="state")
        page = self._store.browse(self._keys(ref), state, offset, limit,
                                  tag=tag.encode("utf-8", "surrogatepass") if tag is not None else None)
        out = {"items": [task_json(t, "dead" if state == "dead" else state_of(t, page.now_usec))
                         for t in page.tasks],
               "offset": offset, "now": page.now_usec}
        if page.total is not None:
            out["total"] = page.total
        return out

    def task(self, ref: QueueRef, name: str) -> dict:
        keys = self._keys(ref)
        found, state, now = self._store.inspect(keys, task_name(name))
        out = task_json(found, state)
        out["history"] = [event_json(e) for e in self._store.history(keys, found.name, TASK_HISTORY)
                          if e.at_usec >= found.enqueue_usec]  # not a deleted task of the same name
        out["now"] = now
        return out

    def history(self, ref: QueueRef, task: str | None, limit: int) -> list:
        if task is not None:
            task_name(task)
        return [event_json(e) for e in self._store.history(self._keys(ref), task, limit)]

    def act(self, ref: QueueRef, action: str, name: str) -> dict | None:
        keys, name = self._keys(ref), task_name(name)
        if action == "delete":
            self._store.delete(keys, name)
            return None
        if action == "release":
            self._store.renew(keys, name, 0)
        elif action == "requeue":
            self._store.requeue(keys, name)
        found, state, _ = self._store.inspect(keys, name)
        return task_json(found, state)

    def purge_step(self, ref: QueueRef, limit: int) -> dict:
        deleted, remaining = self._store.purge_step(self._keys(ref), limit)
        return {"deleted": deleted, "remaining": remaining}

    def requeue_dead(self, ref: QueueRef, limit: int) -> dict:
        requeued, remaining = self._store.requeue_dead(self._keys(ref), limit)
        return {"requeued": requeued, "remaining": remaining}

    def act_on_queue(self, ref: QueueRef, action: str) -> None:
        raise InvalidArgument(f"No queue action {action} on a pull queue")

    def pending(self, ref: QueueRef, within_usec: int) -> int:
        """Tasks a lease would hand out now, or leased: what keeps the queue from idle (the
        consumers' work is done when none is left)."""
        (stats,) = self._store.summaries([self._keys(ref)])
        return stats.available + stats.leased

    def reset(self) -> int:
        return self._store.reset()

    def clear_tombstones(self, ref: QueueRef | None) -> int:
        if ref is None:
            return self._store.clear_all_tombstones()
        return self._store.clear_tombstones(self._keys(ref))

    def insert(self, ref: QueueRef, name: str | None, payload: bytes, tag: str | None, delay_secs: int) -> dict:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise InvalidArgument(f"The payload is larger than {MAX_PAYLOAD_BYTES} bytes")
        name = task_name(name, "id") if name else new_task_name()
        task = self._store.insert(self._keys(ref), name, payload, tag=tag_bytes(tag), delay_secs=delay_secs)
        return task_json(task, "delayed" if delay_secs else "available")

    def now_usec(self) -> int:
        return self._store.now_usec()

    def nudge(self) -> None:
        if self._forgetter:
            self._forgetter.nudge()
