"""Redis memory per task, and Redis commands per API call.

    python -m bench.run_memory

Memory: used_memory before and after filling a queue, per task, for 100-byte and 10 KB
payloads, untagged, named as the service names tasks it is given without a name (22 characters). Commands: INFO commandstats around N calls of each operation through the app (the
commands run inside a Lua script count, as does the EVALSHA itself).
"""

from __future__ import annotations

import os

import redis

from bench.populate import populate
from queueservice.engine.app import create_app
from queueservice.config import Settings
from harness.servers import RedisServer

BASE = "/taskqueue/v1beta2/projects/bench/taskqueues/cmd"


def memory(client, count, size):
    client.flushall()
    client.execute_command("MEMORY PURGE")
    before = client.info("memory")["used_memory"]
    populate(client, "bench", "mem", count, payload_size=size, generated_names=True)
    after = client.info("memory")["used_memory"]
    per_task = (after - before) / count
    return per_task, per_task - size


def commands(client, web, label, call, n=500):
    client.config_resetstat()
    for i in range(n):
        call(i)
    stats = client.info("commandstats")
    total = sum(v["calls"] for k, v in stats.items() if k != "cmdstat_config")
    top = {k.removeprefix("cmdstat_"): v["calls"] / n for k, v in stats.items() if k != "cmdstat_config"}
    return label, total / n, top


def main():
    redis_server = RedisServer().start()
    client = redis.Redis.from_url(redis_server.url)
    try:
        print(f"{'payload':>8} {'tasks':>8} {'bytes/task':>11} {'over payload':>13}")
        for count, size in ((100_000, 100), (20_000, 10_240)):
            per_task, over = memory(client, count, size)
            print(f"{size:8d} {count:8d} {per_task:11.0f} {over:13.0f}")

        client.flushall()
        web = create_app(Settings(redis_url=redis_server.url, log_level="WARNING")).test_client()
        body = {"payloadBase64": "aGVsbG8="}
        web.post(BASE + "/tasks", json=body)  # the queue is registered once per process
        rows = [
            commands(client, web, "insert", lambda i: web.post(BASE + "/tasks", json={**body, "id": f"t{i}"})),
            commands(client, web, "get", lambda i: web.get(BASE + f"/tasks/t{i}")),
            commands(client, web, "lease(1)", lambda i: web.post(BASE + "/tasks/lease?numTasks=1&leaseSecs=600")),
            commands(client, web, "update", lambda i: web.post(BASE + f"/tasks/t{i}?newLeaseSeconds=600", json={})),
            commands(client, web, "stats", lambda i: web.get(BASE + "?getStats=true")),
            commands(client, web, "list", lambda i: web.get(BASE + "/tasks"), n=20),
            commands(client, web, "delete", lambda i: web.delete(BASE + f"/tasks/t{i}")),
        ]
        print(f"\n{'call':10} {'Redis commands/call':>20}  round trips/call (EVALSHA)  breakdown")
        for label, total, top in rows:
            detail = ", ".join(f"{k} {v:g}" for k, v in sorted(top.items()))
            print(f"{label:10} {total:20.1f}  {top.get('evalsha', 0):26.1f}  {detail}")
        print(f"\n{os.cpu_count()} CPUs; Redis {client.info('server')['redis_version']}")
    finally:
        redis_server.stop()


if __name__ == "__main__":
    main()
