"""Forgetting idle, empty queues, so listings, the dashboard and /metrics stay small.

Thousands of queues that were used once and emptied would otherwise stay in the registry for ever.
Each process sweeps at most once a minute, in a background thread started by a listing, so no
request waits for it; the sweep itself is one script call per 1000 queues (see TaskStore.forget_idle).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("queueservice")

SWEEP_EVERY_SECS = 60


class Forgetter:
    def __init__(self, store, idle_secs: int):
        self._store = store
        self._idle_secs = idle_secs
        self._lock = threading.Lock()
        self._last = -SWEEP_EVERY_SECS
        self._stopping = threading.Event()
        self._loop = None

    def start(self) -> None:
        """Sweep every minute in the background too, so queues are forgotten with nobody looking."""
        if not self._idle_secs or self._loop is not None:
            return
        self._stopping.clear()
        self._loop = threading.Thread(target=self._run, name="queueservice-forget-loop", daemon=True)
        self._loop.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._loop is not None:
            self._loop.join(timeout=5)
            self._loop = None

    def _run(self) -> None:
        while not self._stopping.wait(SWEEP_EVERY_SECS):
            self.nudge()

    def nudge(self) -> None:
        """Start a sweep in the background if none ran in the last minute (0 = never forget)."""
        if not self._idle_secs or time.monotonic() - self._last < SWEEP_EVERY_SECS:
            return
        if not self._lock.acquire(blocking=False):
            return
        self._last = time.monotonic()
        threading.Thread(target=self._sweep, name="queueservice-forget", daemon=True).start()

    def _sweep(self) -> None:
        try:
            forgotten = self._store.forget_idle(self._idle_secs)
            if forgotten:
                log.info("forgot %d idle empty queues (QUEUE_FORGET_SECS=%d)", forgotten, self._idle_secs)
        except Exception as exc:  # noqa: BLE001 - a failed sweep is retried a minute later
            log.warning("could not forget idle queues: %s", exc)
        finally:
            self._lock.release()
