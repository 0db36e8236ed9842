"""Our service set up for the push benchmarks: redis-server, gunicorn and `python -m queueservice
worker` processes (each a dispatcher), the receiver, and the calls the benchmarks make to them.

Tasks reach the service through its Cloud Tasks v2 REST API in plain HTTP (requests, JSON), or,
to pre-fill a queue fast, through the store's own `PushQueueStore.create_task` with its script
calls queued in a Redis pipeline (no key is written by hand).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import redis
import requests

from bench.measure import children
from bench.receiver import Receiver
from harness.servers import GunicornServer, RedisServer, wait_until
from queueservice.stores.pushqueue.store import PushQueueStore

REPO = Path(__file__).resolve().parent.parent
PROJECT, LOCATION = "bench", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
DAY_USEC = 86_400_000_000


def now_usec() -> int:
    """The wall clock in µs: the same clock as Redis TIME, the receiver's and the peer's (one machine)."""
    return time.time_ns() // 1000


def rfc3339(usec: int) -> str:
    return datetime.fromtimestamp(usec / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unique(prefix: str) -> str:
    """A queue id used once (a deleted queue's name is taken for a minute)."""
    return f"{prefix}-{secrets.token_hex(3)}"


class _Pipelined:
    """Stands in for the store's scripts: each call is queued in a pipeline, and the caller gets a
    placeholder reply (an OK with an empty task); `PipelinedFill.flush` checks the real replies."""

    PLACEHOLDER = [0, "{}", "0,0,0,0,0,0,-1,0,0", "0", "0"]

    def __init__(self, scripts, pipe):
        self._scripts, self._pipe = scripts, pipe

    def run(self, name, keys, args):
        self._scripts.script(name)(keys=list(keys), args=list(args), client=self._pipe)
        return self.PLACEHOLDER


class PipelinedFill:
    """`PushQueueStore.create_task`, as the API calls it, `chunk` calls per round trip."""

    def __init__(self, client, tombstone_secs: int = 3600, chunk: int = 2000):
        self.store = PushQueueStore(client, tombstone_secs=tombstone_secs)
        self._pipe = client.pipeline(transaction=False)
        self.store._scripts = _Pipelined(self.store._scripts, self._pipe)  # the one stand-in
        self._chunk = chunk
        self.rate = 20_000.0  # tasks/s, measured by each fill

    def fill(self, queue_name: str, count: int, url: str, due_usec: int = 0) -> float:
        """Add `count` HTTP tasks to `url` due at `due_usec` (0: now), stored as the API stores
        them; the seconds taken."""
        task = {"httpRequest": {"url": url, "httpMethod": "POST", "headers": {"User-Agent": "Google-Cloud-Tasks"}}}
        started = time.perf_counter()
        for i in range(count):
            self.store.create_task(queue_name, None, task, due_usec)
            if i % self._chunk == self._chunk - 1:
                self.flush()
        self.flush()
        took = time.perf_counter() - started
        if count >= 1000:
            self.rate = count / took
        return took

    def flush(self) -> None:
        for reply in self._pipe.execute():
            if not (isinstance(reply, list) and reply and reply[0] == 0):
                raise RuntimeError(f"task_create answered {reply!r}")

    def seconds_for(self, count: int) -> float:
        """About how long a fill of `count` tasks takes, from the last ones."""
        return count / self.rate


class Stack:
    """redis-server, the receiver and our service: gunicorn with `web_workers` workers (each runs a
    dispatcher unless BACKGROUND_WORK=apart) and `apart_workers` processes of
    `python -m queueservice worker` (each a dispatcher)."""

    def __init__(self, web_workers: int = 1, apart_workers: int = 1, env: dict | None = None):
        self.web_workers, self.apart_workers = web_workers, apart_workers
        self.extra_env = env or {}
        self.redis_server = self.receiver = self.service = None
        self.apart = []
        self._logs = []

    def describe(self) -> str:
        web = f"gunicorn {self.web_workers} worker(s) x {self.env.get('THREADS', 8)} threads"
        dispatching = self.env.get("BACKGROUND_WORK", "serve") != "apart"
        return (f"{web} ({'each a dispatcher' if dispatching else 'not dispatching'}) + "
                f"{self.apart_workers} `python -m queueservice worker` -> {len(self.dispatcher_pids())} "
                f"dispatcher process(es), 16 senders each; redis-server; receiver {self.receiver.url}")

    def start(self) -> "Stack":
        try:
            self.redis_server = RedisServer().start()
            self.redis = redis.Redis.from_url(self.redis_server.url)
            self.receiver = Receiver().start()
            self.env = {"REDIS_URL": self.redis_server.url, "LOG_LEVEL": "WARNING",
                        "WEB_CONCURRENCY": str(self.web_workers), **self.extra_env}
            self.service = GunicornServer(self.env).start()
            for _ in range(self.apart_workers):
                self._start_apart()
            self.session = requests.Session()
            self.fills = PipelinedFill(self.redis, int(self.env.get("TASK_TOMBSTONE_SECS", 3600)))
            wait_until(lambda: len(self.dispatcher_pids()) == self.expected_dispatchers(), what="dispatchers")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_apart(self):
        log = tempfile.NamedTemporaryFile(prefix="qs-worker-", suffix=".log", delete=False)
        self._logs.append(log.name)
        proc = subprocess.Popen([sys.executable, "-m", "queueservice", "worker"], cwd=REPO,
                                env={**os.environ, **self.env}, stdout=log, stderr=log)
        self.apart.append(proc)
        wait_until(lambda: "running background services" in Path(log.name).read_text(), timeout=30,
                   what="python -m queueservice worker")

    def expected_dispatchers(self) -> int:
        serving = self.env.get("BACKGROUND_WORK", "serve") != "apart"
        return (self.web_workers if serving else 0) + self.apart_workers

    # --- processes ---------------------------------------------------------------------------

    def web_worker_pids(self) -> list:
        return children(self.service.proc.pid) if self.service and self.service.proc else []

    def dispatcher_pids(self) -> list:
        serving = self.env.get("BACKGROUND_WORK", "serve") != "apart"
        return (self.web_worker_pids() if serving else []) + [p.pid for p in self.apart if p.poll() is None]

    def service_pids(self) -> list:
        """Every process of the service: gunicorn's master and workers, the apart workers."""
        return [self.service.proc.pid] + self.web_worker_pids() + [p.pid for p in self.apart if p.poll() is None]

    def groups(self) -> dict:
        """Process groups whose CPU the benchmarks report."""
        return {"service": self.service_pids, "dispatchers": self.dispatcher_pids,
                "redis": lambda: [self.redis_server.proc.pid], "receiver": lambda: [self.receiver.proc.pid]}

    def redis_commands(self) -> dict:
        """{command: calls so far} of redis-server (INFO commandstats); the benchmark's own calls count too."""
        stats = self.redis.info("commandstats")
        return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}

    def logs(self) -> str:
        return self.service.output() + "".join(Path(name).read_text() for name in self._logs)

    def stop(self) -> None:
        for proc in self.apart:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
        for part in (self.service, self.receiver, self.redis_server):
            if part is not None:
                part.stop()

    # --- the API -----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.service.url}/v2/{path}"

    def create_queue(self, queue_id: str, rate: float | None = None) -> dict:
        """Create a queue (maxDispatchesPerSecond `rate`, the rest Google's defaults); the Queue."""
        body = {"name": f"{PARENT}/queues/{queue_id}"}
        if rate is not None:
            body["rateLimits"] = {"maxDispatchesPerSecond": rate}
        answer = self.session.post(self.url(f"{PARENT}/queues"), json=body)
        answer.raise_for_status()
        return answer.json()

    def pause_queue(self, queue_id: str) -> None:
        self.session.post(self.url(f"{PARENT}/queues/{queue_id}:pause"), json={}).raise_for_status()

    def delete_queue(self, queue_id: str) -> None:
        self.session.delete(self.url(f"{PARENT}/queues/{queue_id}")).raise_for_status()

    def task_body(self, schedule_usec: int | None = None) -> dict:
        task = {"httpRequest": {"url": self.receiver.url + "/t", "httpMethod": "POST"}}
        if schedule_usec:
            task["scheduleTime"] = rfc3339(schedule_usec)
        return {"task": task}

    def create_task(self, queue_id: str, schedule_usec: int | None = None) -> tuple:
        """CreateTask over REST: (sent µs, answered µs, task id)."""
        body = self.task_body(schedule_usec)
        sent = now_usec()
        answer = self.session.post(self.url(f"{PARENT}/queues/{queue_id}/tasks"), json=body)
        answered = now_usec()
        answer.raise_for_status()
        return sent, answered, answer.json()["name"].rsplit("/", 1)[-1]

    def fill(self, queue_id: str, count: int, due_usec: int = 0) -> float:
        return self.fills.fill(f"{PARENT}/queues/{queue_id}", count, self.receiver.url + "/t", due_usec)

    def arrivals(self, queue_id: str, since: int = 0) -> list:
        """[(arrived µs, task id, eta)] of one queue's requests at the receiver."""
        return [(ns // 1000, name, eta) for ns, name, queue, eta in self.receiver.records(since) if queue == queue_id]
