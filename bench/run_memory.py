"""Redis memory per task, and Redis commands per API call.

    python -m bench.run_memory

Memory: used_memory before and after filling a queue, per task. Pull tasks: 100-byte and 10 KB
payloads, untagged (and 100 bytes with a tag), named as the service names tasks it is given without
a name (22 characters); then MEMORY USAGE of each key of the 100-byte queue, per task. Push tasks
(Cloud Tasks): created through the app's CreateTask with an HTTP target and a 100-byte body, ids
made by the service (19 digits), scheduled a day ahead so that none is sent meanwhile.
Commands: INFO commandstats around N calls of each operation through the app (the commands run
inside a Lua script count, as does the EVALSHA itself).
"""

from __future__ import annotations

import base64
import os
import time

import redis

from bench.populate import populate
from queueservice.engine.app import create_app
from queueservice.config import Settings
from queueservice.stores.pullqueue.store import TaskStore
from harness.servers import RedisServer

BASE = "/taskqueue/v1beta2/projects/bench/taskqueues/cmd"


def used(client) -> int:
    client.execute_command("MEMORY PURGE")
    return client.info("memory")["used_memory"]


def memory(client, count, size, tag=b""):
    client.execute_command("FLUSHALL", "SYNC")  # freed before `before` is read, even where flushes are lazy
    TaskStore(client).check_layout()  # the store's version key, written once per Redis
    before = used(client)
    populate(client, "bench", "mem", count, payload_size=size, generated_names=True, tag=tag)
    per_task = (used(client) - before) / count
    return per_task, per_task - size


def key_breakdown(client, pattern, count) -> list:
    """(key, type, bytes per task) of each key matching `pattern`, by MEMORY USAGE."""
    rows = []
    for key in sorted(client.scan_iter(pattern)):
        usage = client.memory_usage(key, samples=0) or 0
        rows.append((key.decode(), client.type(key).decode(), usage / count))
    return rows


def push_memory(client, url, count, size):
    """Bytes per push task, created through the app's CreateTask (an HTTP target, a `size`-byte body)."""
    client.execute_command("FLUSHALL", "SYNC")
    web = create_app(Settings(redis_url=url, log_level="WARNING")).test_client()
    queue = "/v2/projects/bench/locations/us-central1/queues/mem"
    assert web.post("/v2/projects/bench/locations/us-central1/queues",
                    json={"name": queue[4:]}).status_code == 200
    body = base64.b64encode(os.urandom(size)).decode()
    ahead = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    task = {"task": {"httpRequest": {"url": "http://localhost:9/work", "body": body}, "scheduleTime": ahead}}
    web.post(queue + "/tasks", json=task)  # the first task creates the queue's keys
    before = used(client)
    for _ in range(count):
        assert web.post(queue + "/tasks", json=task).status_code == 200
    per_task = (used(client) - before) / count
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
        print(f"{'task':12} {'payload':>8} {'tasks':>8} {'bytes/task':>11} {'over payload':>13}")
        for count, size, tag in ((20_000, 10_240, b""), (100_000, 100, b"red"), (100_000, 100, b"")):
            per_task, over = memory(client, count, size, tag)
            print(f"{'pull, tagged' if tag else 'pull':12} {size:8d} {count:8d} {per_task:11.0f} {over:13.0f}")
        pull_keys = key_breakdown(client, "qs:{bench/mem}:*", 100_000)
        per_task, over = push_memory(client, redis_server.url, 20_000, 100)
        print(f"{'push (HTTP)':12} {100:8d} {20_000:8d} {per_task:11.0f} {over:13.0f}")
        push_keys = key_breakdown(client, "ct:{bench/us-central1/mem}:*", 20_000)
        print("\nMEMORY USAGE of each key of the 100-byte queues, per task:")
        for key, kind, per in pull_keys + push_keys:
            print(f"  {key:40} {kind:7} {per:8.1f}")

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
