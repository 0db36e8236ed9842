"""The operations behind the dashboard and the admin API: both call these, on any kind of queue."""

from __future__ import annotations

import time

from queueservice.errors import DeadlineExceeded, NotFound

#: How often wait_idle looks again.
IDLE_POLL_SECS = 0.02


class Operations:
    """Operator operations over every registered QueueKind (looked up by API name)."""

    def __init__(self, kinds, clock=None):
        """`kinds`: a callable answering the current list of QueueKind objects; `clock` the store's
        clock (redis_helpers.clock.Clock), which tests move forward through the admin API."""
        self._kinds = kinds
        self.clock = clock

    def clock_state(self) -> dict:
        return {"now": self.clock.now_usec(), "offsetSeconds": self.clock.offset_usec() / 1e6}

    def kinds(self) -> list:
        return list(self._kinds())

    def kind(self, api: str = "taskqueue"):
        for kind in self._kinds():
            if kind.api == api:
                return kind
        raise NotFound(f"No queues of API {api} are served here")

    def ref(self, project: str, queue: str, api: str = "taskqueue"):
        kind = self.kind(api)
        return kind, kind.resolve(project, queue)

    def queues(self, offset: int = 0, limit: int | None = None, skip_idle: bool = False) -> dict:
        """Summaries of one page of queues of every kind (`total` counts them all)."""
        refs = []
        for kind in self._kinds():
            kind.nudge()
            refs += [(kind, ref) for ref in kind.queues()]
        page = refs[offset:] if limit is None else refs[offset:offset + limit]
        items = []
        for kind in self._kinds():
            mine = [ref for k, ref in page if k is kind]
            items += [s for s in kind.summaries(mine, skip_idle=skip_idle) if s is not None]
        return {"items": items, "total": len(refs), "offset": offset}

    def queue(self, project: str, queue: str, api: str = "taskqueue") -> dict:
        kind, ref = self.ref(project, queue, api)
        return kind.summaries([ref])[0]

    def tasks(self, project, queue, state, offset, limit, tag=None, api="taskqueue") -> dict:
        kind, ref = self.ref(project, queue, api)
        return kind.browse(ref, state, offset, limit, tag)

    def task(self, project, queue, name, api="taskqueue") -> dict:
        kind, ref = self.ref(project, queue, api)
        return kind.task(ref, name)

    def history(self, project, queue, task=None, limit=200, api="taskqueue") -> dict:
        kind, ref = self.ref(project, queue, api)
        return {"items": kind.history(ref, task, limit)}

    def act(self, project, queue, action, name, api="taskqueue") -> dict | None:
        kind, ref = self.ref(project, queue, api)
        if action not in kind.task_actions:
            raise NotFound(f"No action {action} on tasks of {api}")
        return kind.act(ref, action, name)

    def act_on_queue(self, project, queue, action, api="taskqueue") -> str:
        """Pause or resume a queue; the outcome's message."""
        kind, ref = self.ref(project, queue, api)
        if action not in kind.queue_actions:
            raise NotFound(f"No action {action} on queues of {api}")
        kind.act_on_queue(ref, action)
        return kind.queue_actions[action]

    def wait_idle(self, project, queue, timeout_secs: float, within_secs: float, api="taskqueue") -> dict:
        """Block until no task of the queue is due within `within_secs` or being worked on (pull
        queues: none available or leased); DeadlineExceeded after `timeout_secs`."""
        kind, ref = self.ref(project, queue, api)
        started = time.monotonic()
        while True:
            pending = kind.pending(ref, int(within_secs * 1e6))
            waited = time.monotonic() - started
            if not pending:
                return {"idle": True, "waitedSeconds": round(waited, 3)}
            if waited >= timeout_secs:
                raise DeadlineExceeded(f"The queue still had {pending} tasks due or in progress after "
                                       f"{timeout_secs:g} s")
            time.sleep(IDLE_POLL_SECS)

    def reset(self) -> dict:
        """Forget every queue, task and tombstone of every kind, and set the clock back (tests)."""
        queues = sum(kind.reset() for kind in self._kinds())
        if self.clock is not None:
            self.clock.reset()
        return {"queues": queues}

    def purge_step(self, project, queue, limit, api="taskqueue") -> dict:
        kind, ref = self.ref(project, queue, api)
        return kind.purge_step(ref, limit)

    def requeue_dead(self, project, queue, limit, api="taskqueue") -> dict:
        kind, ref = self.ref(project, queue, api)
        return kind.requeue_dead(ref, limit)

    def clear_tombstones(self, project=None, queue=None, api="taskqueue") -> int:
        if project is None:
            return sum(kind.clear_tombstones(None) for kind in self._kinds())
        kind, ref = self.ref(project, queue, api)
        return kind.clear_tombstones(ref)

    def insert(self, project, queue, name, payload, tag, delay_secs, api="taskqueue") -> dict:
        kind, ref = self.ref(project, queue, api)
        return kind.insert(ref, name, payload, tag, delay_secs)

    def now_usec(self) -> int:
        kinds = self.kinds()
        return kinds[0].now_usec() if kinds else 0
