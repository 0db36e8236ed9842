"""The pull-queue service the APIs share at run time: the store, the queue catalog, upkeep."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from queueservice.redis_helpers.clock import Clock
from queueservice.redis_helpers.connection import UNAVAILABLE_ERRORS
from queueservice.stores.pullqueue.forgetting import Forgetter
from queueservice.stores.pullqueue.operator_view import PullQueues
from queueservice.stores.pullqueue.queues import QueueCatalog
from queueservice.stores.pullqueue.store import LAYOUT_VERSION, TaskStore

log = logging.getLogger("queueservice")


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
    try:  # at start-up (in gunicorn's master first), so a migration happens before anything is served
        migrated = store.check_layout()
        if migrated:
            log.warning("migrated the pull-queue tasks of %d queues to the store's layout version %d",
                        migrated, LAYOUT_VERSION)
    except UNAVAILABLE_ERRORS as exc:  # a Redis that is down is waited for: the store checks on first use
        log.warning("could not check the pull-queue store's layout at start (%s); checking on first use", exc)
    compat = settings.taskqueue_compat
    catalog = QueueCatalog.from_file(settings.queue_config, settings.default_max_leases,
                                     underscores=compat == "render")
    forgetter = Forgetter(store, settings.queue_forget_secs)
    return Backend(store=store, queues=catalog, compat=compat, forgetter=forgetter,
                   operator_kind=PullQueues(store, catalog, forgetter))


def create_backend(services) -> Backend:
    """The engine's hook: the process's one pull-queue service (built by the first API asking)."""
    return services.get("pullqueue", _build)
