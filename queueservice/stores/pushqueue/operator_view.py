"""The push queues as the operator tools see them (`queueservice.operator.interface.QueueKind`).

A Cloud Tasks queue is named by project and `<location>:<queue>` there (queue ids hold no colon),
so it fits the tools' project/queue addressing. A task's `retryCount` is its attempts so far,
`enqueueTimestamp` its creation and `leaseTimestamp` when it is next due (0 while it is being sent).
"""

from __future__ import annotations

import base64
import threading

from queueservice.errors import FailedPrecondition, InvalidArgument
from queueservice.operator.interface import QueueRef



def task_json(stored, with_payload: bool = False) -> dict:
    task, a = stored.task, stored.attempts
    target = task.get("httpRequest") or task.get("appEngineHttpRequest") or {}
    out = {"id": task["name"].rsplit("/", 1)[1], "state": "due" if stored.due_usec else "running",
           "retryCount": a.dispatches, "enqueueTimestamp": stored.created_usec, "leaseTimestamp": stored.due_usec,
           "tag": target.get("url") or target.get("relativeUri") or ""}
    if with_payload:
        body = base64.b64decode(target.get("body") or "")
        out.update(payloadBase64=base64.b64encode(body).decode(), payloadSize=len(body))
    return out


class PushQueues:
    """Cloud Tasks push queues: tasks are due (waiting for their time, or for a retry) or running."""

    api = "cloudtasks"
    states = ("all", "due", "running")
    task_actions = {"run": "Sent task {} now.", "delete": "Deleted task {}."}

    def __init__(self, store, dispatcher):
        self._store = store
        self._dispatcher = dispatcher

    @staticmethod
    def _name(ref: QueueRef) -> str:
        location, _, queue = ref.queue.partition(":")
        return f"projects/{ref.project}/locations/{location}/queues/{queue}"

    def queues(self) -> list:
        return [QueueRef(self.api, k.project, f"{k.location}:{k.queue}") for k in self._store.queue_keys()]

    def resolve(self, project: str, queue: str) -> QueueRef:
        if ":" not in queue:
            raise InvalidArgument("A Cloud Tasks queue is named <location>:<queue> here", location="queue")
        ref = QueueRef(self.api, project, queue)
        self._store.get(self._name(ref))
        return ref

    def summaries(self, refs: list, skip_idle: bool = False) -> list:
        out = []
        for ref in refs:
            name = self._name(ref)
            due, running = self._store.counts(name)
            if skip_idle and not due and not running:
                out.append(None)
                continue
            queue = self._store.get(name).resource()
            out.append({"api": self.api, "project": ref.project, "queue": ref.queue, "total": due + running,
                        "due": due, "running": running, "queueState": queue["state"],
                        "maxDispatchesPerSecond": queue["rateLimits"]["maxDispatchesPerSecond"]})
        return out

    def browse(self, ref: QueueRef, state: str, offset: int, limit: int, tag: str | None) -> dict:
        if state not in self.states:
            raise InvalidArgument(f"state must be one of {', '.join(self.states)}", location="state")
        tasks, total = self._store.list_tasks(self._name(ref), 0 if state != "all" else offset,
                                              10_000 if state != "all" else limit)
        items = [task_json(t) for t in tasks]
        if state != "all":
            items = [t for t in items if t["state"] == state][offset:offset + limit]
        out = {"items": items, "offset": offset, "now": self._store.clock.now_usec()}
        if state == "all":
            out["total"] = total
        return out

    def task(self, ref: QueueRef, name: str) -> dict:
        stored = self._store.get_task(self._name(ref), name)
        a = stored.attempts
        out = task_json(stored, with_payload=True)
        history = []
        if a.first_dispatch_usec:
            history.append({"task": name, "event": "first_attempt", "retryCount": 1, "at": a.first_dispatch_usec})
        if a.last_response_usec:
            history.append({"task": name, "event": f"answered_{a.last_status}", "retryCount": a.dispatches,
                            "at": a.last_response_usec})
        out.update(history=history, now=self._store.clock.now_usec())
        return out

    def history(self, ref: QueueRef, task: str | None, limit: int) -> list:
        return self.task(ref, task)["history"][:limit] if task else []

    def act(self, ref: QueueRef, action: str, name: str) -> dict | None:
        queue = self._name(ref)
        if action == "delete":
            self._store.delete_task(queue, name)
            return None
        (claim,) = self._store.run_task(queue, name).claims
        threading.Thread(target=self._dispatcher.send_now, args=(queue, claim), daemon=True).start()
        return None

    def purge_step(self, ref: QueueRef, limit: int) -> dict:
        self._store.purge(self._name(ref), step=limit)
        return {"deleted": 0, "remaining": 0}

    def requeue_dead(self, ref: QueueRef, limit: int) -> dict:
        raise FailedPrecondition("Cloud Tasks queues keep no dead letters: a task whose retries are spent is dropped")

    def clear_tombstones(self, ref: QueueRef | None) -> int:
        return self._store.clear_tombstones(None if ref is None else self._name(ref))

    def insert(self, ref, name, payload, tag, delay_secs) -> dict:
        raise InvalidArgument("Create push tasks through the Cloud Tasks API: they need a target URL")

    def now_usec(self) -> int:
        return self._store.clock.now_usec()

    def nudge(self) -> None:
        pass
