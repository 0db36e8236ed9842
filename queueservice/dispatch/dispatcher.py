"""The push dispatcher: a background service that claims due tasks from the push-queue store and
sends each as an HTTP request, retrying failures on Google's schedule.

Claims are atomic in Redis (see stores/pushqueue/lua/claim.lua), so any number of dispatchers, in
any number of processes and instances, never send one attempt twice; a dispatcher killed mid-request
leaves the task to be sent again once its claim runs out.

An idle dispatcher does not poll. For each queue it knows when claiming may next give something
(the next due time, a token of its rate, a claim running out), and sleeps until the earliest; the
store wakes it across processes (Redis pub/sub) when a task is created, a queue resumed or changed,
a slot of a full queue freed, or the test clock moved. A full rescan of the queues every
RESCAN_SECS covers messages lost while its pub/sub connection was down.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import urllib3

from queueservice.engine.formats import parse_duration
from queueservice.errors import NotFound
from queueservice.stores.pushqueue.retries import backoff_usec, may_retry

from .requests_for import NoTarget, build

log = logging.getLogger("queueservice.dispatch")
#: How often every queue is looked at whatever the wake messages said.
RESCAN_SECS = 10.0
#: The same while no pub/sub connection listens (messages would be lost).
RESCAN_DEAF_SECS = 1.0
#: Pause before a lost pub/sub connection is made again.
RELISTEN_SECS = 1.0


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
        # urllib3 itself (requests is built on it): connections kept per host, one per sender, at
        # about half requests' CPU per call; no retries or redirects of its own, as Cloud Tasks.
        self._http = urllib3.PoolManager(num_pools=64, maxsize=senders, retries=False)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        # Under _lock: senders free now; queue name -> µs (store time) when to claim again
        # (math.inf: only after a wake message); whether the pub/sub connection listens.
        self._idle = senders
        self._next: dict = {}
        self._listening = False
        self._rescan_at = 0.0
        self._offset_usec = 0   # store time minus this machine's time, from the last claim
        self._threads = []

    # --- service -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self._senders, thread_name_prefix="queueservice-send")
        self._threads = [threading.Thread(target=self._run, name="queueservice-dispatch", daemon=True),
                         threading.Thread(target=self._listen, name="queueservice-wakes", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def health(self) -> dict:
        return {"status": "ok"}

    def nudge(self, queue_name: str | None = None) -> None:
        """Look at `queue_name` (every queue: None) now, instead of at the time it expected."""
        with self._lock:
            if queue_name is None:
                self._rescan_at = 0.0
            else:
                self._next[queue_name] = 0
        self._wake.set()

    # --- wake messages -----------------------------------------------------------------------

    def _listen(self) -> None:
        while not self._stopping.is_set():
            listener = None
            try:
                listener = self._store.wakes()
                with self._lock:
                    self._listening = True
                self.nudge()  # messages sent before we listened are lost: look at everything
                while not self._stopping.is_set():
                    message = listener.get_message(timeout=1.0)
                    if message is not None:
                        self._heard(*self._store.wake_of(message))
            except Exception as exc:  # noqa: BLE001 - a lost Redis must not end the listener
                log.info("not hearing wake messages (%s); rescanning every %ss", exc, RESCAN_DEAF_SECS)
                with self._lock:
                    self._listening = False
                self._stopping.wait(RELISTEN_SECS)
            finally:
                if listener is not None:
                    try:
                        listener.close()
                    except Exception:  # noqa: BLE001 - closing a broken connection
                        pass

    def _heard(self, queue_name: str | None, due_usec: int) -> None:
        with self._lock:
            if queue_name is None:
                self._rescan_at = 0.0
            else:
                self._next[queue_name] = min(self._next.get(queue_name, math.inf), due_usec)
        self._wake.set()

    # --- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = self.dispatch_once()
            except Exception as exc:  # noqa: BLE001 - a lost Redis must not end the loop
                log.warning("dispatch failed, trying again shortly: %s", exc)
                wait = RESCAN_DEAF_SECS
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()

    def _store_now(self) -> int:
        return int(time.time() * 1e6) + self._offset_usec

    def dispatch_once(self) -> float:
        """Claim what may be due and hand it to the senders; the seconds to sleep."""
        if time.monotonic() >= self._rescan_at:
            names = self._store.queue_names()
            with self._lock:
                self._next = {name: 0 for name in names}
                self._rescan_at = time.monotonic() + (RESCAN_SECS if self._listening else RESCAN_DEAF_SECS)
        now = self._store_now()
        with self._lock:
            due = sorted((at, name) for name, at in self._next.items() if at <= now)
        for _, name in due:
            with self._lock:
                free = self._idle
                if free <= 0:
                    break  # a sender coming free wakes the loop
                self._next[name] = math.inf  # wake messages during the claim lower it again
            try:
                claimed = self._store.claim(name, free)
            except NotFound:
                with self._lock:
                    self._next.pop(name, None)
                continue
            self._offset_usec = claimed.now_usec - int(time.time() * 1e6)
            with self._lock:
                self._idle -= len(claimed.claims)
                if claimed.next_usec is not None:
                    self._next[name] = min(self._next.get(name, math.inf), claimed.next_usec)
            for claim in claimed.claims:
                self._pool.submit(self._send, name, claimed.queue, claim)
        with self._lock:
            soonest = min(self._next.values(), default=math.inf)
            if soonest <= now and self._idle <= 0:
                soonest = math.inf  # waiting for a sender
            rescan = max(0.0, self._rescan_at - time.monotonic())
        return min(rescan, max(0.0, (soonest - self._store_now()) / 1e6))

    def send_soon(self, queue_name: str, claimed) -> None:
        """Send claimed attempts (RunTask's) now, each in its own thread, whatever the senders' load."""
        for claim in claimed.claims:
            with self._lock:
                self._idle -= 1
            threading.Thread(target=self._send, args=(queue_name, claimed.queue, claim), daemon=True).start()

    def _send(self, queue_name: str, queue: dict, claim) -> None:
        try:
            status, started = None, time.monotonic()
            try:
                outgoing = build(claim.task, queue_name, claim.attempts, self._urls, self._default_url,
                                 queue.get("appEngineRoutingOverride"), queue.get("httpTarget"), self._token_for)
                timeout = max(1.0, claim.attempts.deadline_usec / 1e6)
                answer = self._http.request(outgoing.method, outgoing.url, headers=outgoing.headers,
                                            body=outgoing.body or None, timeout=urllib3.Timeout(total=timeout),
                                            redirect=False)
                status = answer.status
            except NoTarget as exc:
                log.warning("%s", exc)
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:  # ValueError: a URL it cannot use
                log.info("task %s: no answer (%s)", claim.task_id, exc.__class__.__name__)
            latency = time.monotonic() - started
            retry_at = None if status is not None and 200 <= status < 300 else self._retry_at(queue, claim)
            self._store.finish(queue_name, claim, status, retry_at, latency)
            if retry_at is not None:
                with self._lock:
                    self._next[queue_name] = min(self._next.get(queue_name, math.inf), retry_at)
        except Exception as exc:  # noqa: BLE001 - the claim runs out and the task is sent again
            log.warning("could not record the attempt of task %s: %s", claim.task_id, exc)
        finally:
            with self._lock:
                self._idle += 1
            self._wake.set()

    def _retry_at(self, queue: dict, claim) -> int | None:
        """When to try again (µs), or None when both retry limits are spent."""
        config = {**(queue.get("retryConfig") or {}), **(claim.task.get("retryConfig") or {})}
        usec = {k: (parse_duration(v) if isinstance(v, str) else v) for k, v in config.items()}
        now = self._store.clock.now_usec()
        if not may_retry(claim.attempts.dispatches, claim.attempts.first_dispatch_usec, now,
                         int(usec.get("maxAttempts", 100)), int(usec.get("maxRetryDuration", 0))):
            return None
        return now + backoff_usec(claim.attempts.dispatches, int(usec.get("minBackoff", 100_000)),
                                  int(usec.get("maxBackoff", 3_600_000_000)), int(usec.get("maxDoublings", 16)))
