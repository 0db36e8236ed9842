"""The push queues as the operator tools see them (`queueservice.operator.interface.QueueKind`).

A Cloud Tasks queue is named by project and `<location>:<queue>` there (queue ids hold no colon),
so it fits the tools' project/queue addressing. A task is scheduled (waiting for its first attempt),
retrying (waiting for another), running (being sent) or finished (succeeded, or dropped after its
last attempt; kept for a while, which Cloud Tasks itself never shows). A task's `retryCount` is its
attempts so far, `enqueueTimestamp` its creation and `leaseTimestamp` when it is next due (0 while
it is being sent, its end once finished).
"""

from __future__ import annotations

import base64

from queueservice.engine.formats import format_duration
from queueservice.errors import FailedPrecondition, InvalidArgument, NotFound
from queueservice.operator.interface import QueueRef
from queueservice.stores.pushqueue.store import LATENCY_BUCKETS, TaskGone, TaskNotFound

#: Answer classes of the dispatch counters, as the store counts them.
ANSWER_CLASSES = ("2xx", "3xx", "4xx", "5xx", "none")


def _target(task: dict) -> tuple:
    """(kind, its spec) of a Task: ("http", httpRequest) or ("app engine", appEngineHttpRequest)."""
    if "httpRequest" in task:
        return "http", task["httpRequest"]
    return "app engine", task.get("appEngineHttpRequest") or {}


def _attempts(log: list) -> list:
    return [{"dispatchTime": dispatch, "responseTime": response, "responseStatus": status}
            for dispatch, response, status in log]


def task_json(task: dict, attempts, state: str, created_usec: int, next_usec: int, detail: bool = False,
              log=(), outcome: str | None = None) -> dict:
    kind, spec = _target(task)
    out = {"id": task["name"].rsplit("/", 1)[1], "state": state, "retryCount": attempts.dispatches,
           "enqueueTimestamp": created_usec, "leaseTimestamp": next_usec,
           "tag": spec.get("url") or spec.get("relativeUri") or "", "target": kind,
           "httpMethod": spec.get("httpMethod", "POST"), "dispatchCount": attempts.dispatches,
           "responseCount": attempts.responses}
    if attempts.last_response_usec:
        out["lastStatus"] = attempts.last_status if attempts.last_status >= 0 else None
    if outcome:
        out["outcome"] = outcome
    if detail:
        body = base64.b64decode(spec.get("body") or "")
        routing = spec.get("appEngineRouting") or {}
        out.update(payloadBase64=base64.b64encode(body).decode(), payloadSize=len(body),
                   headers=dict(spec.get("headers") or {}), attempts=_attempts(log),
                   dispatchDeadline=format_duration(attempts.deadline_usec))
        if routing.get("service"):
            out["service"] = routing["service"]
    return out


def _state(stored) -> str:
    if not stored.due_usec:
        return "running"
    return "retrying" if stored.attempts.dispatches else "scheduled"


class PushQueues:
    """Cloud Tasks push queues."""

    api = "cloudtasks"
    states = ("all", "scheduled", "retrying", "running", "finished")
    task_actions = {"run": "Sent task {} now.", "delete": "Deleted task {}."}
    queue_actions = {"pause": "Paused the queue: nothing is sent until it is resumed.",
                     "resume": "Resumed the queue."}

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
        """Push queues are few and made on purpose, so none is skipped as idle."""
        return [self._summary(ref) for ref in refs]

    def _summary(self, ref: QueueRef) -> dict:
        name = self._name(ref)
        counts = self._store.counts(name)
        queue = self._store.get(name).resource()
        stats = self._store.stats(name)
        rates, retry = queue["rateLimits"], queue["retryConfig"]
        out = {"api": self.api, "project": ref.project, "queue": ref.queue,
               "total": counts.scheduled + counts.retrying + counts.running,
               "scheduled": counts.scheduled, "retrying": counts.retrying, "running": counts.running,
               "finished": counts.finished, "queueState": queue["state"],
               "maxDispatchesPerSecond": rates["maxDispatchesPerSecond"], "maxBurstSize": rates["maxBurstSize"],
               "maxConcurrentDispatches": rates["maxConcurrentDispatches"],
               "maxAttempts": retry.get("maxAttempts", 100),
               "minBackoff": format_duration(retry["minBackoff"]), "maxBackoff": format_duration(retry["maxBackoff"]),
               "maxDoublings": retry.get("maxDoublings", 16),
               "maxRetryDuration": format_duration(retry["maxRetryDuration"]) if retry.get("maxRetryDuration") else "",
               "dispatches": {c: stats.get("d" + c, 0) for c in ANSWER_CLASSES},
               "retries": stats.get("retries", 0), "succeeded": stats.get("succeeded", 0),
               "dropped": stats.get("dropped", 0),
               "latency": {"sumSeconds": stats.get("lsum", 0) / 1e6,
                           "buckets": [stats.get(f"l{i}", 0) for i in range(len(LATENCY_BUCKETS) + 1)],
                           "bounds": list(LATENCY_BUCKETS)}}
        if "httpTarget" in queue:
            out["httpTarget"] = queue["httpTarget"].get("uriOverride", {}).get("host", "") or "overridden"
        return out

    def browse(self, ref: QueueRef, state: str, offset: int, limit: int, tag: str | None) -> dict:
        if state not in self.states:
            raise InvalidArgument(f"state must be one of {', '.join(self.states)}", location="state")
        name = self._name(ref)
        now = self._store.clock.now_usec()
        if state == "finished":
            done, total = self._store.finished_tasks(name, offset, limit)
            items = [task_json(f.task, f.attempts, "finished", f.created_usec, f.finished_usec, outcome=f.outcome)
                     for f in done]
            return {"items": items, "offset": offset, "total": total, "now": now}
        tasks, total = self._store.list_tasks(name, 0 if state != "all" else offset,
                                              10_000 if state != "all" else limit)
        items = [task_json(t.task, t.attempts, _state(t), t.created_usec, t.due_usec) for t in tasks]
        if tag:
            items = [t for t in items if t["tag"] == tag]
        out = {"items": items, "offset": offset, "now": now}
        if state != "all":
            out["items"] = [t for t in items if t["state"] == state][offset:offset + limit]
        elif not tag:
            out["total"] = total
        return out

    def task(self, ref: QueueRef, name: str) -> dict:
        queue = self._name(ref)
        try:
            stored = self._store.get_task(queue, name)
        except (TaskGone, TaskNotFound):
            finished = self._store.finished_task(queue, name)
            if finished is None:
                raise NotFound(f"No task {name} in this queue, nor among its recently finished tasks") from None
            out = task_json(finished.task, finished.attempts, "finished", finished.created_usec,
                            finished.finished_usec, detail=True, log=finished.log, outcome=finished.outcome)
        else:
            out = task_json(stored.task, stored.attempts, _state(stored), stored.created_usec, stored.due_usec,
                            detail=True, log=self._store.attempt_log(queue, name))
        out.update(history=self._events(out), now=self._store.clock.now_usec())
        return out

    @staticmethod
    def _events(task: dict) -> list:
        """A task's attempts (and its end) as events, newest first."""
        events = []
        for n, attempt in enumerate(task.get("attempts", []), 1):
            events.append({"task": task["id"], "event": "dispatched", "retryCount": n, "at": attempt["dispatchTime"]})
            status = attempt["responseStatus"]
            events.append({"task": task["id"], "event": f"answered_{status}" if status else "no_answer",
                           "retryCount": n, "at": attempt["responseTime"]})
        if task.get("outcome"):
            events.append({"task": task["id"], "event": task["outcome"], "retryCount": task["retryCount"],
                           "at": task["leaseTimestamp"]})
        order = sorted(range(len(events)), key=lambda n: (events[n]["at"], n), reverse=True)
        return [events[n] for n in order]

    def history(self, ref: QueueRef, task: str | None, limit: int) -> list:
        """One task's attempts, or the queue's recently finished tasks (newest first)."""
        if task:
            return self.task(ref, task)["history"][:limit]
        done, _ = self._store.finished_tasks(self._name(ref), 0, limit)
        return [{"task": f.task["name"].rsplit("/", 1)[1], "event": f.outcome, "retryCount": f.attempts.dispatches,
                 "at": f.finished_usec} for f in done]

    def act(self, ref: QueueRef, action: str, name: str) -> dict | None:
        queue = self._name(ref)
        if action == "delete":
            self._store.delete_task(queue, name)
            return None
        if action != "run":
            raise InvalidArgument(f"No task action {action} on a Cloud Tasks queue")
        self._dispatcher.send_soon(queue, self._store.run_task(queue, name))
        return None

    def act_on_queue(self, ref: QueueRef, action: str) -> None:
        queue = self._name(ref)
        if action == "pause":
            self._store.pause(queue)
        elif action == "resume":
            self._store.resume(queue)
        else:
            raise InvalidArgument(f"No queue action {action} on a Cloud Tasks queue")

    def pending(self, ref: QueueRef, within_usec: int) -> int:
        """Tasks due within `within_usec` from now, or being sent: what keeps the queue from idle."""
        return self._store.pending(self._name(ref), within_usec)

    def purge_step(self, ref: QueueRef, limit: int) -> dict:
        """The whole purge (in steps inside the store): tasks made meanwhile are kept, as on Google."""
        counts = self._store.counts(self._name(ref))
        self._store.purge(self._name(ref), step=limit)
        return {"deleted": counts.scheduled + counts.retrying + counts.running, "remaining": 0}

    def requeue_dead(self, ref: QueueRef, limit: int) -> dict:
        raise FailedPrecondition("Cloud Tasks queues keep no dead letters: a task whose retries are spent is dropped "
                                 "(it is listed among the finished tasks for a while)")

    def clear_tombstones(self, ref: QueueRef | None) -> int:
        return self._store.clear_tombstones(None if ref is None else self._name(ref))

    def reset(self) -> int:
        return self._store.reset()

    def insert(self, ref, name, payload, tag, delay_secs) -> dict:
        raise InvalidArgument("Create push tasks through the Cloud Tasks API: they need a target URL")

    def now_usec(self) -> int:
        return self._store.clock.now_usec()

    def nudge(self) -> None:
        pass
