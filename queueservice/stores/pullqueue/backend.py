"""The pull-queue service the APIs share at run time: the store, the queue catalog, upkeep."""

from __future__ import annotations

from dataclasses import dataclass

from queueservice.redis_helpers.clock import Clock
from queueservice.stores.pullqueue.forgetting import Forgetter
from queueservice.stores.pullqueue.operator_view import PullQueues
from queueservice.stores.pullqueue.queues import QueueCatalog
from queueservice.stores.pullqueue.store import TaskStore


@dataclass
class Backend:
    """The pull-queue service: one store and one queue catalog per process, shared by the APIs.

    `compat` is TASKQUEUE_COMPAT: "" for Google's behaviour, "render" for the first emulator's.
    """

    store: TaskStore
    queues: QueueCatalog
    compat: str = ""
    forgetter: Forgetter | None = None
    operator_kind: PullQueues | None = None

    def start(self) -> None:
        if self.forgetter:
            self.forgetter.start()

    def stop(self) -> None:
        if self.forgetter:
            self.forgetter.stop()

    def health(self) -> dict:
        return {"status": "ok", "queues": self.store.queue_count()}


def _build(services) -> Backend:
    settings = services.settings
    store = TaskStore(services.redis, settings.history_max_events, tombstone_secs=settings.task_tombstone_secs,
                      clock=services.get("clock", lambda s: Clock(s.redis)))
    compat = settings.taskqueue_compat
    catalog = QueueCatalog.from_file(settings.queue_config, settings.default_max_leases,
                                     underscores=compat == "render")
    forgetter = Forgetter(store, settings.queue_forget_secs)
    return Backend(store=store, queues=catalog, compat=compat, forgetter=forgetter,
                   operator_kind=PullQueues(store, catalog, forgetter))


def create_backend(services) -> Backend:
    """The engine's hook: the process's one pull-queue service (built by the first API asking)."""
    return services.get("pullqueue", _build)
