"""The push dispatcher as real processes: gunicorn run with the production command (each worker
runs a dispatcher), `python -m queueservice worker` on its own, one real redis-server between them,
and a real HTTP receiver. Times move with the admin API's clock, not with sleeps.

Which instance sent a request shows in its path: App Engine tasks go to the APP_ENGINE_URL of the
process that sends them, and each instance here has its own (`/a/...` or `/b/...`).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import redis
import requests
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import tasks_v2
from google.protobuf import duration_pb2
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from harness.servers import REPO, GunicornServer, RedisServer, wait_until

PARENT = "projects/procs/locations/us-central1"
#: How long any single wait may take before the test fails (instead of hanging).
WAIT = 15


# --- the receiver ------------------------------------------------------------------------------

class Receiver:
    """A threaded HTTP server that records every request it gets: the path, the headers, the task
    and queue names, when it arrived and when it was answered. `behaviours[queue id]` may answer
    a request of that queue itself: `fn(record) -> status`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []
        self.behaviours = {}
        self.inflight = collections.Counter()
        self.most_inflight = collections.Counter()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @Request.application
    def app(self, request):
        headers = dict(request.headers)
        queue = headers.get("X-Appengine-Queuename") or headers.get("X-Cloudtasks-Queuename") or ""
        record = {"path": request.path, "headers": headers, "queue": queue, "at": time.monotonic(),
                  "task": headers.get("X-Appengine-Taskname") or headers.get("X-Cloudtasks-Taskname"),
                  "instance": request.path.split("/")[1]}
        with self.lock:
            self.records.append(record)
            self.inflight[queue] += 1
            self.most_inflight[queue] = max(self.most_inflight[queue], self.inflight[queue])
        status = 200
        try:
            behaviour = self.behaviours.get(queue)
            if behaviour is not None:
                status = behaviour(record)
        finally:
            with self.lock:  # before the answer leaves: the sender cannot have seen it yet
                self.inflight[queue] -= 1
                record["answered"] = time.monotonic()
        return Response("ok", status=status)

    def of(self, queue_id: str) -> list:
        with self.lock:
            return [r for r in self.records if r["queue"] == queue_id]

    def wait_for(self, queue_id: str, count: int, timeout: float = WAIT) -> list:
        wait_until(lambda: len(self.of(queue_id)) >= count, timeout=timeout,
                   what=f"{count} requests of queue {queue_id} (got {len(self.of(queue_id))})")
        return self.of(queue_id)

    def stop(self):
        self.server.shutdown()


# --- processes ---------------------------------------------------------------------------------

class WorkerProcess:
    """`python -m queueservice worker`: the dispatcher in a process of its own, whose pid we know."""

    def __init__(self, redis_url: str, **env):
        self.log = tempfile.NamedTemporaryFile(prefix="qs-worker-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([sys.executable, "-m", "queueservice", "worker"], cwd=REPO,
                                     env={**os.environ, "REDIS_URL": redis_url, "LOG_LEVEL": "INFO", **env},
                                     stdout=self.log, stderr=self.log)
        try:
            wait_until(lambda: "running background services" in self.output(), timeout=WAIT,
                       what="the worker process")
        except TimeoutError:
            self.stop()
            raise RuntimeError("the worker did not start:\n" + self.output()) from None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_all(servers):
    """Start gunicorn servers side by side (each waits for its /healthz)."""
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda s: s.start(), servers))
    return servers


def client_for(server) -> tasks_v2.CloudTasksClient:
    return tasks_v2.CloudTasksClient(transport="rest", credentials=AnonymousCredentials(),
                                     client_options=ClientOptions(api_endpoint=server.url))


def clock_now(server) -> float:
    """Now by the service's clock (seconds since the epoch): the clock may have been moved ahead."""
    r = requests.get(server.url + "/admin/v1/clock", timeout=10)
    r.raise_for_status()
    return int(r.json()["now"]) / 1e6


def advance_clock(server, seconds: float) -> None:
    r = requests.post(server.url + f"/admin/v1/clock/advance?seconds={seconds}", timeout=10)
    assert r.status_code == 200, r.text


def make_queue(client, queue_id: str, **fields) -> str:
    name = f"{PARENT}/queues/{queue_id}"
    client.create_queue(parent=PARENT, queue={"name": name, **fields})
    return name


def app_engine_task(queue: str, task_id: str, schedule_at: float | None = None) -> dict:
    task = {"name": f"{queue}/tasks/{task_id}",
            "app_engine_http_request": {"relative_uri": f"/{queue.rsplit('/', 1)[1]}/{task_id}", "body": b"x"}}
    if schedule_at is not None:
        task["schedule_time"] = {"seconds": int(schedule_at)}
    return task


def gone(server, name: str) -> bool:
    """Plain HTTP: the REST client keeps the connection of an error answer open, which would hold up
    gunicorn's graceful stop until its keep-alive runs out."""
    return requests.get(f"{server.url}/v2/{name}", timeout=10).status_code == 404


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_proc():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def pair(redis_proc, receiver):
    """Two service instances (two gunicorn masters, two workers each: four dispatchers) on one Redis;
    instance a sends App Engine tasks to the receiver's /a, instance b to its /b."""
    url = redis_proc.url.rsplit("/", 1)[0] + "/1"
    servers = [GunicornServer({"REDIS_URL": url, "WEB_CONCURRENCY": "2", "LOG_LEVEL": "WARNING",
                               "APP_ENGINE_URL": f"{receiver.url}/{letter}"}) for letter in "ab"]
    try:
        yield start_all(servers)
    finally:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda s: s.stop(), servers))


@pytest.fixture(scope="module")
def clients(pair):
    made = [client_for(server) for server in pair]
    yield made
    for client in made:  # an open keep-alive connection would hold up gunicorn's graceful stop
        client.transport.close()


# --- 1. exactly once across two instances ------------------------------------------------------

def test_two_instances_deliver_each_of_300_tasks_exactly_once(pair, clients, receiver):
    queues = [make_queue(clients[i % 2], f"once-{i}") for i in range(3)]
    names = [f"t{i}" for i in range(100)]
    session = requests.Session()

    def create(job):
        index, queue, task_id = job
        body = {"task": {"name": f"{queue}/tasks/{task_id}",
                         "appEngineHttpRequest": {"relativeUri": f"/{task_id}", "httpMethod": "POST"}}}
        r = session.post(f"{pair[index % 2].url}/v2/{queue}/tasks", json=body, timeout=10)
        assert r.status_code == 200, r.text

    jobs = [(i, queue, task_id) for i, (task_id, queue) in enumerate((t, q) for t in names for q in queues)]
    with session, ThreadPoolExecutor(6) as pool:  # both instances take creations while both dispatch
        list(pool.map(create, jobs))

    for queue in queues:
        receiver.wait_for(queue.rsplit("/", 1)[1], len(names))
    time.sleep(0.5)  # a second delivery would come at once
    for queue in queues:
        got = collections.Counter(r["task"] for r in receiver.of(queue.rsplit("/", 1)[1]))
        assert [name for name, n in got.items() if n > 1] == [], f"delivered twice in {queue}"
        assert sorted(got) == sorted(names)
    instances = collections.Counter(r["instance"] for q in queues for r in receiver.of(q.rsplit("/", 1)[1]))
    assert set(instances) == {"a", "b"}, f"both instances must take part: {instances}"
    for queue in queues:
        wait_until(lambda: not list(clients[0].list_tasks(parent=queue)), timeout=WAIT, what=f"{queue} empty")


# --- 2. a dispatcher killed mid-request --------------------------------------------------------

@pytest.fixture
def apart(redis_proc):
    """An instance that serves the APIs only (BACKGROUND_WORK=apart): dispatchers run in workers."""
    url = redis_proc.url.rsplit("/", 1)[0] + "/2"
    server = GunicornServer({"REDIS_URL": url, "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING",
                             "BACKGROUND_WORK": "apart"}).start()
    workers = []
    try:
        yield server, url, workers
    finally:
        for worker in workers:
            worker.stop()
        server.stop()


def test_a_task_whose_dispatcher_is_killed_mid_request_is_sent_again_after_its_claim(apart, receiver):
    server, redis_url, workers = apart
    client = client_for(server)
    queue = make_queue(client, "killed")
    release = threading.Event()

    def first_held(record):
        if record["headers"]["X-Cloudtasks-Taskretrycount"] == "0":
            release.wait(WAIT * 2)  # never answered while its sender lives
        else:  # the task as GetTask shows it while its second attempt is under way
            record["seen"] = requests.get(f"{server.url}/v2/{queue}/tasks/held?responseView=FULL", timeout=10).json()
        return 200

    receiver.behaviours["killed"] = first_held
    try:
        workers.append(WorkerProcess(redis_url))
        task = client.create_task(parent=queue, task={
            "name": f"{queue}/tasks/held", "dispatch_deadline": duration_pb2.Duration(seconds=15),
            "http_request": {"url": receiver.url + "/held", "body": b"payload"}})
        (first,) = receiver.wait_for("killed", 1)
        assert first["headers"]["X-Cloudtasks-Taskretrycount"] == "0"

        workers[0].kill()  # kill -9, while the request is open
        assert workers[0].proc.returncode == -signal.SIGKILL
        seen = client.get_task(request={"name": task.name, "response_view": tasks_v2.Task.View.FULL})
        assert (seen.dispatch_count, seen.response_count) == (1, 0)
        assert seen.first_attempt.dispatch_time.timestamp() > 0

        workers.append(WorkerProcess(redis_url))
        time.sleep(1.0)  # the new dispatcher idles: the dead one's claim still holds the task
        assert len(receiver.of("killed")) == 1, "sent again before its claim ran out"

        advance_clock(server, 15 + 5 + 1)  # past the dispatch deadline plus the claim's grace
        second = receiver.wait_for("killed", 2, timeout=10)[1]
        wait_until(lambda: "seen" in second, timeout=10, what="the handler's GetTask")  # recorded before it runs
        headers = second["headers"]
        assert (second["path"], second["task"]) == ("/held", "held")
        assert headers["X-Cloudtasks-Taskretrycount"] == "1"
        assert headers["X-Cloudtasks-Taskexecutioncount"] == "0"  # no answer came to the first
        assert "X-Cloudtasks-Taskpreviousresponse" not in headers  # nor any status to report
        assert (int(second["seen"]["dispatchCount"]), int(second["seen"].get("responseCount", 0))) == (2, 0)
        first_dispatch = datetime.fromisoformat(second["seen"]["firstAttempt"]["dispatchTime"].replace("Z", "+00:00"))
        assert first_dispatch == seen.first_attempt.dispatch_time  # still the killed attempt's
        wait_until(lambda: gone(server, task.name), timeout=WAIT, what="the task to go after its success")
        time.sleep(0.5)
        assert len(receiver.of("killed")) == 2
    finally:
        release.set()
        receiver.behaviours.pop("killed", None)
        client.transport.close()


# --- 3. rate limits across processes -----------------------------------------------------------

def test_max_dispatches_per_second_holds_across_two_instances(pair, clients, receiver):
    rate, tasks = 5, 40
    queue = make_queue(clients[0], "rated", rate_limits={"max_dispatches_per_second": rate})
    burst = clients[1].get_queue(name=queue).rate_limits.max_burst_size
    assert burst == 5  # derived by the API from the rate (output only in v2)
    clients[0].pause_queue(name=queue)
    for i in range(tasks):
        clients[i % 2].create_task(parent=queue, task=app_engine_task(queue, f"r{i}"))
    clients[1].resume_queue(name=queue)
    try:
        receiver.wait_for("rated", 1)
        time.sleep(2.7)
        got = sorted(r["at"] for r in receiver.of("rated"))
    finally:
        clients[0].purge_queue(name=queue)
    start, jitter = got[0], 0.2  # arrivals lag the claims by a few ms, not always the same
    for index, at in enumerate(got):
        allowed = burst + rate * (at - start + jitter)
        assert index + 1 <= allowed, f"{index + 1} deliveries after {at - start:.2f}s: more than {allowed:.1f}"
    window = 2.5
    within = sum(1 for at in got if at - start <= window)
    assert within >= 0.75 * (burst + rate * window), f"only {within} deliveries in {window}s"
    instances = collections.Counter(r["instance"] for r in receiver.of("rated"))
    assert set(instances) == {"a", "b"}, f"both instances must take part: {instances}"


def test_max_concurrent_dispatches_1_never_has_two_requests_in_flight(pair, clients, receiver):
    queue = make_queue(clients[0], "single", rate_limits={"max_concurrent_dispatches": 1})
    receiver.behaviours["single"] = lambda record: time.sleep(0.2) or 200
    try:
        clients[0].pause_queue(name=queue)
        for i in range(8):
            clients[i % 2].create_task(parent=queue, task=app_engine_task(queue, f"c{i}"))
        clients[1].resume_queue(name=queue)
        got = receiver.wait_for("single", 8)
        time.sleep(0.3)
    finally:
        receiver.behaviours.pop("single", None)
    assert receiver.most_inflight["single"] == 1
    spans = sorted((r["at"], r["answered"]) for r in got)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:]))
    assert sorted(r["task"] for r in got) == sorted(f"c{i}" for i in range(8))
    instances = collections.Counter(r["instance"] for r in got)
    assert set(instances) == {"a", "b"}, f"both instances must take part: {instances}"


def commands_per_second(redis_proc, seconds: float = 0.5) -> float:
    """Commands the Redis server ran per second, over `seconds` from now."""
    client = redis.Redis(port=redis_proc.port, socket_timeout=5)
    before = client.info("stats")["total_commands_processed"]
    time.sleep(seconds)
    after = client.info("stats")["total_commands_processed"]
    client.close()
    return (after - before - 2) / seconds  # not counting our own INFO


#: What four idle dispatchers may cost Redis, in commands a second: a little, plus, for each queue,
#: each dispatcher looking at it about once a second with a script of some ten commands (x 2.5).
IDLE_COMMANDS_BASE, IDLE_COMMANDS_PER_QUEUE = 500, 100


def test_dispatchers_with_a_backlog_they_may_not_send_yet_do_not_spin(pair, clients, receiver, redis_proc):
    """Tasks held back by a pause, a spent rate or full concurrency wait without cost: the dispatchers
    sleep until something can change, they do not ask Redis again and again."""
    a, b = clients
    measured = {}
    release = threading.Event()

    paused = make_queue(a, "spin-paused")
    a.pause_queue(name=paused)
    for i in range(10):
        b.create_task(parent=paused, task=app_engine_task(paused, f"p{i}"))
    time.sleep(0.2)
    measured["paused"] = commands_per_second(redis_proc)
    a.purge_queue(name=paused)

    full = make_queue(a, "spin-full", rate_limits={"max_concurrent_dispatches": 1})
    def held(record):
        release.wait(WAIT)
        return 200

    receiver.behaviours["spin-full"] = held
    try:
        for i in range(3):
            b.create_task(parent=full, task=app_engine_task(full, f"f{i}"))
        receiver.wait_for("spin-full", 1)
        measured["concurrency full"] = commands_per_second(redis_proc)
        a.purge_queue(name=full)
    finally:
        release.set()
        receiver.behaviours.pop("spin-full", None)

    rated = make_queue(a, "spin-rated", rate_limits={"max_dispatches_per_second": 1})
    for i in range(10):
        b.create_task(parent=rated, task=app_engine_task(rated, f"r{i}"))
    receiver.wait_for("spin-rated", 1)
    measured["rate spent"] = commands_per_second(redis_proc)
    a.purge_queue(name=rated)

    limit = IDLE_COMMANDS_BASE + IDLE_COMMANDS_PER_QUEUE * len(list(a.list_queues(parent=PARENT)))
    busy = {why: round(rate) for why, rate in measured.items() if rate > limit}
    assert not busy, f"Redis commands per second while nothing may be sent: {busy} (limit {limit})"


# --- 4. pause, resume, purge, delete across processes ------------------------------------------

def test_a_queue_paused_through_one_instance_is_held_by_both_until_resumed(pair, clients, receiver):
    held = make_queue(clients[0], "held")
    control = make_queue(clients[0], "held-control")
    clients[1].pause_queue(name=held)
    for i in range(6):
        clients[i % 2].create_task(parent=held, task=app_engine_task(held, f"p{i}"))
    clients[0].create_task(parent=control, task=app_engine_task(control, "go"))
    receiver.wait_for("held-control", 1)  # the dispatchers are running
    time.sleep(1.2)
    assert receiver.of("held") == []
    assert clients[0].get_queue(name=held).state == tasks_v2.Queue.State.PAUSED

    clients[0].resume_queue(name=held)
    receiver.wait_for("held", 6)
    time.sleep(0.3)
    assert sorted(r["task"] for r in receiver.of("held")) == sorted(f"p{i}" for i in range(6))


def test_purged_and_deleted_tasks_never_fire_even_when_their_time_comes(pair, clients, receiver):
    a, b = clients
    later = clock_now(pair[0]) + 60
    purged = make_queue(a, "purged")
    doomed = make_queue(a, "doomed")
    kept = make_queue(b, "kept")

    # purge: tasks due now (held by a pause) and tasks due later; a task created after the purge stays
    b.pause_queue(name=purged)
    for i in range(3):
        a.create_task(parent=purged, task=app_engine_task(purged, f"now{i}"))
        b.create_task(parent=purged, task=app_engine_task(purged, f"later{i}", later))
    b.purge_queue(name=purged)
    a.resume_queue(name=purged)
    time.sleep(0.01)
    a.create_task(parent=purged, task=app_engine_task(purged, "after-purge", later))

    # delete: one task of a queue, and a whole queue with its tasks
    a.create_task(parent=kept, task=app_engine_task(kept, "deleted", later))
    a.create_task(parent=kept, task=app_engine_task(kept, "control", later))
    b.delete_task(name=f"{kept}/tasks/deleted")
    for i in range(2):
        b.create_task(parent=doomed, task=app_engine_task(doomed, f"d{i}", later))
    a.delete_queue(name=doomed)

    assert receiver.of("purged") == [] and receiver.of("kept") == []
    advance_clock(pair[1], 120)
    receiver.wait_for("kept", 1)
    receiver.wait_for("purged", 1)
    time.sleep(0.5)  # the others were due with these
    assert [r["task"] for r in receiver.of("kept")] == ["control"]
    assert [r["task"] for r in receiver.of("purged")] == ["after-purge"]
    assert receiver.of("doomed") == []
