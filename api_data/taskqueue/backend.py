"""What the pull-queue APIs share at run time: the store and the queue catalog."""

from __future__ import annotations

from dataclasses import dataclass

from .forgetting import Forgetter
from .queues import QueueCatalog
from .store import TaskStore


@dataclass
class Backend:
    store: TaskStore
    queues: QueueCatalog
    forgetter: Forgetter | None = None


def create_backend(context) -> Backend:
    """The engine's hook: one store on the service's Redis, and the queues of QUEUE_CONFIG."""
    settings = context.settings
    store = TaskStore(context.redis, settings.history_max_events)
    return Backend(store=store, queues=QueueCatalog.from_file(settings.queue_config, settings.default_max_leases),
                   forgetter=Forgetter(store, settings.queue_forget_secs))
