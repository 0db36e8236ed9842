"""The push dispatcher: a background service that claims due tasks from the push-queue store and
sends each as an HTTP request, retrying failures on Google's schedule.

Claims are atomic in Redis (see stores/pushqueue/lua/claim.lua), so any number of dispatchers, in
any number of processes and instances, never send one attempt twice; a dispatcher killed mid-request
leaves the task to be sent again once its claim runs out. An idle dispatcher sleeps until the next
task is due, at most IDLE_SECS, or until a task is created in its process.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from queueservice.engine.formats import parse_duration
from queueservice.stores.pushqueue.retries import backoff_usec, may_retry

from .requests_for import NoTarget, build

log = logging.getLogger("queueservice.dispatch")
#: Longest sleep with nothing due, so tasks created by other processes are picked up.
IDLE_SECS = 1.0


class Dispatcher:
    def __init__(self, store, app_engine_urls: dict | None = None, default_app_engine_url: str | None = None,
                 senders: int = 16, token_for=None):
        """`token_for(audience, email)`: an OIDC token, for tasks that ask for one."""
        self._token_for = token_for
        self._store = store
        self._urls = app_engine_urls or {}
        self._default_url = default_app_engine_url
        self._senders = senders
        self._pool = None
        self._session = requests.Session()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._idle = senders  # senders free now; changed under _lock
        self._lock = threading.Lock()
        self._loop = None

    # --- service -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._loop is not None:
            return
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self._senders, thread_name_prefix="queueservice-send")
        self._loop = threading.Thread(target=self._run, name="queueservice-dispatch", daemon=True)
        self._loop.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._loop is not None:
            self._loop.join(timeout=10)
            self._loop = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def health(self) -> dict:
        return {"status": "ok"}

    def nudge(self) -> None:
        """A task was created: look again now instead of at the next due time."""
        self._wake.set()

    # --- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = self.dispatch_once()
            except Exception as exc:  # noqa: BLE001 - a lost Redis must not end the loop
                log.warning("dispatch failed, trying again shortly: %s", exc)
                wait = IDLE_SECS
            self._wake.wait(wait)
            self._wake.clear()

    def dispatch_once(self) -> float:
        """Claim what is due in every queue and hand it to the senders; the seconds to sleep."""
        wait = IDLE_SECS
        for queue_name in self._store.queue_names():
            with self._lock:
                free = self._idle
            if free <= 0:
                return 0.05
            claimed = self._store.claim(queue_name, free)
            for claim in claimed.claims:
                self._take_sender()
                self._pool.submit(self._send, queue_name, claim)
            if claimed.next_due_usec is not None:
                wait = min(wait, max(0.0, (claimed.next_due_usec - claimed.now_usec) / 1e6))
        return wait

    def send_now(self, queue_name: str, claim) -> None:
        """Send one claimed attempt in the calling thread (RunTask)."""
        self._take_sender()
        self._send(queue_name, claim)

    def _take_sender(self) -> None:
        with self._lock:
            self._idle -= 1

    def _send(self, queue_name: str, claim) -> None:
        try:
            queue, status = None, None
            try:
                queue = self._store.get(queue_name).queue
                outgoing = build(claim.task, queue_name, claim.attempts, self._urls, self._default_url,
                                 queue.get("appEngineRoutingOverride"), queue.get("httpTarget"), self._token_for)
                timeout = max(1.0, claim.attempts.deadline_usec / 1e6)
                answer = self._session.request(outgoing.method, outgoing.url, headers=outgoing.headers,
                                               data=outgoing.body or None, timeout=timeout, allow_redirects=False)
                status = answer.status_code
            except NoTarget as exc:
                log.warning("%s", exc)
            except requests.RequestException as exc:
                log.info("task %s: no answer (%s)", claim.task_id, exc.__class__.__name__)
            if status is not None and 200 <= status < 300:
                self._store.finish(queue_name, claim, status, None)
            else:
                self._store.finish(queue_name, claim, status, self._retry_at(queue, claim))
        except Exception as exc:  # noqa: BLE001 - the claim runs out and the task is sent again
            log.warning("could not record the attempt of task %s: %s", claim.task_id, exc)
        finally:
            with self._lock:
                self._idle += 1

    def _retry_at(self, queue: dict | None, claim) -> int | None:
        """When to try again (µs), or None when both retry limits are spent."""
        config = {**((queue or {}).get("retryConfig") or {}), **(claim.task.get("retryConfig") or {})}
        usec = {k: (parse_duration(v) if isinstance(v, str) else v) for k, v in config.items()}
        now = self._store.clock.now_usec()
        if not may_retry(claim.attempts.dispatches, claim.attempts.first_dispatch_usec, now,
                         int(usec.get("maxAttempts", 100)), int(usec.get("maxRetryDuration", 0))):
            return None
        return now + backoff_usec(claim.attempts.dispatches, int(usec.get("minBackoff", 100_000)),
                                  int(usec.get("maxBackoff", 3_600_000_000)), int(usec.get("maxDoublings", 16)))
