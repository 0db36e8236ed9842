"""Fill a queue fast: the store's own insert script, pipelined straight to Redis."""

from __future__ import annotations

import os
import secrets
import time

from queueservice.stores.pullqueue.keys import QueueKeys
from queueservice.stores.pullqueue.store import TaskStore


def populate(client, project: str, queue: str, count: int, payload_size: int = 100,
             prefix: str = "t", first: int = 0, lease_secs: int | None = None,
             history_max_events: int = 10_000, generated_names: bool = False, tag: bytes = b"") -> float:
    """Insert `count` tasks named <prefix><first>.. (or named as the service generates names),
    optionally tagged; optionally lease them all. Returns seconds taken."""
    store = TaskStore(client, history_max_events)
    keys = QueueKeys(project, queue)
    payload = os.urandom(payload_size)
    started = time.perf_counter()
    names = ((secrets.token_urlsafe(16) if generated_names else f"{prefix}{first + i}") for i in range(count))
    store.insert_many(keys, ((name, payload) for name in names), tag=tag)
    if lease_secs is not None:
        leased = 0
        while leased < count:
            got = len(store.lease(keys, 1000, lease_secs).tasks)
            if not got:
                break
            leased += got
    return time.perf_counter() - started
