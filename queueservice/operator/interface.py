"""What the operator tools (dashboard, admin API, CLI, metrics) need of a kind of queue.

Each store implements `QueueKind`; the tools call only this, so a second kind of queue (Cloud
Tasks' push queues) appears in all of them by implementing it. Values are plain JSON-able dicts
in the admin API's shapes, so the dashboard and the admin API show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class QueueRef:
    """A queue of one kind: `api` names the kind (`taskqueue`), `project` is normalised."""

    api: str
    project: str
    queue: str


class QueueKind(Protocol):
    """One kind of queue, as the operator tools see it. Methods raise ApiError subclasses."""

    #: The API the queues belong to (a metrics label, and part of every QueueRef).
    api: str
    #: The states a task list can be filtered by, "all" first; a summary counts each of the others.
    states: tuple
    #: Actions on one task: name -> the outcome's message, with {} for the task's name.
    task_actions: dict
    #: Actions on a whole queue besides purge (pause, resume): name -> the outcome's message.
    queue_actions: dict

    def queues(self) -> list: ...                     # every QueueRef known, sorted
    def resolve(self, project: str, queue: str) -> QueueRef: ...   # checks names; NotFound if absent
    def summaries(self, refs: list, skip_idle: bool = False) -> list: ...  # dicts (None: idle, skipped)
    def browse(self, ref: QueueRef, state: str, offset: int, limit: int, tag: str | None) -> dict: ...
    def task(self, ref: QueueRef, name: str) -> dict: ...            # with payload and history
    def history(self, ref: QueueRef, task: str | None, limit: int) -> list: ...
    def act(self, ref: QueueRef, action: str, name: str) -> dict | None: ...
    def act_on_queue(self, ref: QueueRef, action: str) -> None: ...
    def pending(self, ref: QueueRef, within_usec: int) -> int: ...   # tasks that keep it from idle
    def reset(self) -> int: ...                       # forget every queue and task; queues there were
    def purge_step(self, ref: QueueRef, limit: int) -> dict: ...     # {"deleted", "remaining"}
    def requeue_dead(self, ref: QueueRef, limit: int) -> dict: ...   # {"requeued", "remaining"}
    def clear_tombstones(self, ref: QueueRef | None) -> int: ...
    def insert(self, ref: QueueRef, name: str | None, payload: bytes, tag: str | None,
               delay_secs: int) -> dict: ...
    def now_usec(self) -> int: ...
    def nudge(self) -> None: ...                      # let background upkeep run (forgetting idle queues)
