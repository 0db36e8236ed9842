"""Lease latency as the queue grows: 1 thousand, 100 thousand and 1 million tasks.

    python -m bench.run_depth [--depths 1000,100000,1000000] [--calls 2000]

For each depth: fill the queue (100-byte payloads) straight into Redis, then time
lease(numTasks=1, leaseSecs=0) over HTTP from one client, and the Lua script alone.
"""

from __future__ import annotations

import argparse
import statistics
import time

import redis
import requests

from queueservice.stores.pullqueue.keys import QueueKeys
from queueservice.stores.pullqueue.store import TaskStore
from bench.populate import populate
from harness.servers import GunicornServer, RedisServer


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", default="1000,100000,1000000")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    redis_server = RedisServer().start()
    service = GunicornServer({"REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"}).start()
    client = redis.Redis.from_url(redis_server.url)
    store = TaskStore(client)
    rows = []
    try:
        for depth in (int(d) for d in args.depths.split(",")):
            client.flushall()
            fill = populate(client, "bench", f"d{depth}", depth)
            url = f"{service.url}/taskqueue/v1beta2/projects/bench/taskqueues/d{depth}/tasks/lease"
            http, script = [], []
            with requests.Session() as session:
                for _ in range(200):
                    session.post(url, params={"numTasks": 1, "leaseSecs": 0})
                for _ in range(args.calls):
                    started = time.perf_counter()
                    session.post(url, params={"numTasks": 1, "leaseSecs": 0}).raise_for_status()
                    http.append((time.perf_counter() - started) * 1000)
            keys = QueueKeys("bench", f"d{depth}")
            for _ in range(args.calls):
                started = time.perf_counter()
                store.lease(keys, 1, 0)
                script.append((time.perf_counter() - started) * 1000)
            rows.append((depth, fill, statistics.median(http), percentile(http, 99), statistics.median(script)))
            print(f"depth {depth}: filled in {fill:.1f} s", flush=True)
    finally:
        service.stop()
        redis_server.stop()
    base = rows[0][2]
    print(f"\n{'tasks':>9} {'HTTP p50 ms':>12} {'HTTP p99 ms':>12} {'script p50 ms':>14} {'p50 / first':>12}")
    for depth, _, p50, p99, script in rows:
        print(f"{depth:9d} {p50:12.3f} {p99:12.3f} {script:14.3f} {p50 / base:12.2f}")


if __name__ == "__main__":
    main()
