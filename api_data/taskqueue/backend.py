"""What the pull-queue APIs share at run time: the store and the queue catalog."""

from __future__ import annotations

from dataclasses import dataclass

from .queues import QueueCatalog
from .store import TaskStore


@dataclass
class Backend:
    store: TaskStore
    queues: QueueCatalog


def create_backend(context) -> Backend:
    """The engine's hook: one store on the service's Redis, and the queues of QUEUE_CONFIG."""
    settings = context.settings
    return Backend(store=TaskStore(context.redis, settings.history_max_events),
                   queues=QueueCatalog.from_file(settings.queue_config, settings.default_max_leases))
