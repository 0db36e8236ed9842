"""Fill a queue fast: the store's own insert script, pipelined straight to Redis."""

from __future__ import annotations

import os
import time

from api_data.taskqueue.keys import QueueKeys
from api_data.taskqueue.store import TaskStore


def populate(client, project: str, queue: str, count: int, payload_size: int = 100,
             prefix: str = "t", first: int = 0, batch: int = 2000, lease_secs: int | None = None) -> float:
    """Insert `count` tasks named <prefix><first>.. ; optionally lease them all. Returns seconds taken."""
    store = TaskStore(client)
    keys = QueueKeys(project, queue)
    script = store._scripts._scripts["insert"]
    payload = os.urandom(payload_size)
    started = time.perf_counter()
    for start in range(0, count, batch):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(count, start + batch)):
            script(keys=[keys.tasks, keys.payloads, keys.eta, keys.enqueued],
                   args=[keys.base, f"{prefix}{first + i}", payload, 0, "s", ""], client=pipe)
        pipe.execute()
    if lease_secs is not None:
        leased = 0
        while leased < count:
            got = len(store.lease(keys, 1000, lease_secs).tasks)
            if not got:
                break
            leased += got
    return time.perf_counter() - started
