"""What the pull-queue APIs share at run time: the store and the queue catalog."""

from __future__ import annotations

from dataclasses import dataclass

from queueservice.stores.pullqueue.forgetting import Forgetter
from queueservice.stores.pullqueue.queues import QueueCatalog
from queueservice.stores.pullqueue.store import TaskStore


@dataclass
class Backend:
    """`compat` is TASKQUEUE_COMPAT: "" for Google's behaviour, "render" for the first emulator's."""

    store: TaskStore
    queues: QueueCatalog
    compat: str = ""
    forgetter: Forgetter | None = None


def create_backend(context) -> Backend:
    """The engine's hook: one store on the service's Redis, and the queues of QUEUE_CONFIG."""
    settings = context.settings
    store = TaskStore(context.redis, settings.history_max_events,
                      tombstone_secs=settings.task_tombstone_secs)
    compat = settings.taskqueue_compat
    return Backend(store=store,
                   queues=QueueCatalog.from_file(settings.queue_config, settings.default_max_leases,
                                                 underscores=compat == "render"),
                   compat=compat, forgetter=Forgetter(store, settings.queue_forget_secs))
