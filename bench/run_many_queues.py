"""The dashboard overview and /metrics with many queues: 10 thousand used and emptied, and 10
thousand holding one task each.

    python -m bench.run_many_queues [--queues 10000] [--calls 30]

Fills the queues straight into Redis with the store's own scripts (pipelined), then times
GET /dashboard/ (the first page) and GET /metrics over HTTP from one client: medians and p90,
with the bytes of each answer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import redis
import requests

from queueservice.stores.pullqueue.keys import REGISTRY, QueueKeys
from queueservice.stores.pullqueue.store import TaskStore
from harness.servers import GunicornServer, RedisServer


def fill(client, count: int, emptied: bool) -> float:
    """`count` queues with one task each; with `emptied`, the task is deleted again (history stays)."""
    store = TaskStore(client)
    started = time.perf_counter()
    store._check_layout()  # marks a new Redis with the layout version, as the service does at start
    insert, delete = store._scripts.script("insert"), store._scripts.script("delete")
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        keys = QueueKeys("bench", f"q{i:05d}")
        pipe.sadd(REGISTRY, f"bench/q{i:05d}")
        script_keys = store._keys_for(keys)  # the queue's keys and the clock's, as the store passes them
        insert(keys=script_keys, args=[keys.base, 10_000, "t", b"x" * 100, 0, "s", b"", 0, "0"], client=pipe)
        if emptied:
            delete(keys=script_keys, args=[keys.base, 10_000, "t", 0], client=pipe)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - started


def timed(session, url, calls):
    times, size = [], 0
    for _ in range(3):
        session.get(url).raise_for_status()
    for _ in range(calls):
        started = time.perf_counter()
        r = session.get(url)
        times.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        size = len(r.content)
    ordered = sorted(times)
    return statistics.median(times), ordered[int(len(ordered) * 0.9)], size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queues", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    redis_server = RedisServer().start()
    service = GunicornServer({"REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"}).start()
    client = redis.Redis.from_url(redis_server.url)
    rows = []
    try:
        for emptied in (True, False):
            client.flushall()
            secs = fill(client, args.queues, emptied)
            label = "used and emptied" if emptied else "one task each"
            print(f"{args.queues} queues, {label}: filled in {secs:.1f} s", flush=True)
            with requests.Session() as session:
                for what, path in (("overview", "/dashboard/"), ("metrics", "/metrics")):
                    rows.append((label, what) + timed(session, service.url + path, args.calls))
    finally:
        service.stop()
        redis_server.stop()
    print(f"\n{'queues':<18} {'page':<9} {'p50 ms':>8} {'p90 ms':>8} {'bytes':>10}")
    for label, what, p50, p90, size in rows:
        print(f"{label:<18} {what:<9} {p50:8.1f} {p90:8.1f} {size:10d}")


if __name__ == "__main__":
    main()
