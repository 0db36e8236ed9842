"""Many workers on one queue: every task leased once while its lease runs, none lost.

Real HTTP against gunicorn with several workers (and a second gunicorn instance on the same
Redis), from several processes with several threads each.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import b64
from harness.servers import gunicorn_on

TASKS = 2000
PROCESSES = 4
THREADS = 4


def _insert_all(url, queue, count):
    base = f"{url}/taskqueue/v1beta2/projects/app/taskqueues/{queue}/tasks"
    with requests.Session() as session, ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: session.post(base, json={"id": f"t{i}", "payloadBase64": b64(b"%d" % i)}).status_code,
                              range(count)))
    assert codes == [200] * count


def _worker(args):
    """One process: threads that lease and delete until the queue is empty; returns leased ids."""
    urls, queue = args

    def loop(url):
        base = f"{url}/taskqueue/v1beta2/projects/app/taskqueues/{queue}/tasks"
        got, empty = [], 0
        with requests.Session() as session:
            while empty < 3:
                r = session.post(base + "/lease", params={"numTasks": 7, "leaseSecs": 300}, timeout=30)
                r.raise_for_status()
                items = r.json().get("items", [])
                if not items:
                    empty += 1
                    continue
                empty = 0
                for task in items:
                    got.append(task["id"])
                    assert session.delete(f"{base}/{task['id']}", timeout=30).status_code == 204
        return got

    with ThreadPoolExecutor(THREADS) as pool:
        results = pool.map(loop, [urls[i % len(urls)] for i in range(THREADS)])
    return [task for result in results for task in result]


def _drain(urls, queue):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        per_process = pool.map(_worker, [(urls, queue)] * PROCESSES)
    return Counter(task for tasks in per_process for task in tasks)


def _stats(url, queue):
    r = requests.get(f"{url}/taskqueue/v1beta2/projects/app/taskqueues/{queue}", params={"getStats": "true"})
    return r.json()["stats"]


def test_every_task_is_leased_exactly_once_by_many_workers(gunicorn_server):
    queue = "conc-" + uuid.uuid4().hex[:8]
    _insert_all(gunicorn_server.url, queue, TASKS)
    counts = _drain([gunicorn_server.url], queue)
    assert len(counts) == TASKS
    assert [t for t, n in counts.items() if n != 1] == []
    assert _stats(gunicorn_server.url, queue)["totalTasks"] == 0


@pytest.fixture(scope="module")
def second_instance(redis_server):
    server = gunicorn_on(redis_server, 1)
    yield server
    server.stop()


def test_two_instances_on_one_redis_never_hand_out_a_task_twice(gunicorn_server, second_instance):
    queue = "two-" + uuid.uuid4().hex[:8]
    _insert_all(second_instance.url, queue, TASKS)
    counts = _drain([gunicorn_server.url, second_instance.url], queue)
    assert len(counts) == TASKS
    assert [t for t, n in counts.items() if n != 1] == []
    assert _stats(gunicorn_server.url, queue)["totalTasks"] == 0


def test_concurrent_inserts_of_one_name_let_exactly_one_succeed(gunicorn_server, second_instance):
    queue = "race-" + uuid.uuid4().hex[:8]
    urls = [gunicorn_server.url, second_instance.url]

    def attempt(i):
        base = f"{urls[i % 2]}/taskqueue/v1beta2/projects/app/taskqueues/{queue}/tasks"
        return requests.post(base, json={"id": "only-one", "payloadBase64": b64(b"%d" % i)}).status_code

    for _ in range(5):
        with ThreadPoolExecutor(16) as pool:
            codes = Counter(pool.map(attempt, range(32)))
        assert codes[200] <= 1 and codes[200] + codes[409] == 32
        if codes[200] == 1:
            requests.delete(f"{urls[0]}/taskqueue/v1beta2/projects/app/taskqueues/{queue}/tasks/only-one")
            # The deleted name is tombstoned: free it for the next round.
            requests.post(f"{urls[1]}/admin/v1/projects/app/queues/{queue}/clearTombstones")
    assert codes == Counter({200: 1, 409: 31})
