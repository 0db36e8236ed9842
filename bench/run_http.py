"""Requests/s and p50/p99 latency of each operation over HTTP, as a ratio of the floor app.

    python -m bench.run_http [--seconds 10] [--rounds 3] [--connections 16] [gunicorn args...]

Starts its own redis-server and two gunicorns (the floor app and the service) with the same
gunicorn.conf.py; extra arguments go to both gunicorns (e.g. `-k sync -w 4`). Each round runs
every operation once with wrk; the table shows medians over rounds.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import redis

from bench.populate import populate
from tests.servers import GunicornServer, RedisServer

WRK_DIR = Path(__file__).resolve().parent / "wrk"
PROJECT, QUEUE = "bench", "q"
THREADS = 2
STRIDE = 100_000
POOL = 20_000
OPS = ["floor", "insert", "lease1", "lease100", "get", "update", "delete"]


def wrk(url: str, script: str, seconds: int, connections: int, base: str) -> dict:
    out = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
         str(WRK_DIR / f"{script}.lua"), url, "--", base, str(STRIDE), str(POOL)],
        capture_output=True, text=True, env={**os.environ, "WRK_DIR": str(WRK_DIR)}, check=True).stdout

    def latency(label):
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency("50%"), "p99": latency("99%"), "errors": int(errors.group(1)) if errors else 0}


def prepare(client, op: str):
    """The queue each operation needs: fresh, and holding the tasks it will act on."""
    for key in client.scan_iter(f"qs:{{{PROJECT}/{QUEUE}}}:*"):
        client.delete(key)
    if op in ("lease1", "lease100", "get"):
        populate(client, PROJECT, QUEUE, POOL)
    elif op == "update":
        populate(client, PROJECT, QUEUE, POOL, lease_secs=3600)
    elif op == "delete":
        for thread in range(THREADS):
            populate(client, PROJECT, QUEUE, 60_000, first=thread * STRIDE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args, gunicorn_args = parser.parse_known_args(argv)

    redis_server = RedisServer().start()
    env = {"REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"}
    floor = GunicornServer(env, app="bench.floor_app:app", extra_args=gunicorn_args).start()
    service = GunicornServer(env, extra_args=gunicorn_args).start()
    client = redis.Redis.from_url(redis_server.url)
    base = f"/taskqueue/v1beta2/projects/{PROJECT}/taskqueues/{QUEUE}"
    results = {op: [] for op in OPS}
    try:
        for round_no in range(args.rounds):
            for op in OPS:
                prepare(client, op)
                url = floor.url if op == "floor" else service.url
                results[op].append(wrk(url, op, args.seconds, args.connections, base))
                print(f"round {round_no + 1} {op:9} {results[op][-1]}", file=sys.stderr)
    finally:
        service.stop()
        floor.stop()
        redis_server.stop()

    floor_rps = statistics.median(r["rps"] for r in results["floor"])
    print(f"\n{'operation':10} {'req/s':>9} {'tasks/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x floor':>8} {'non-2xx':>8}")
    for op in OPS:
        rps = statistics.median(r["rps"] for r in results[op])
        tasks = rps * (100 if op == "lease100" else 1)
        print(f"{op:10} {rps:9.0f} {tasks:9.0f} {statistics.median(r['p50'] for r in results[op]):8.2f} "
              f"{statistics.median(r['p99'] for r in results[op]):8.2f} {rps / floor_rps:8.2f} "
              f"{sum(r['errors'] for r in results[op]):8d}")
    print(f"\nwrk -t{THREADS} -c{args.connections} -d{args.seconds}s, {args.rounds} rounds, medians; "
          f"gunicorn extra args: {' '.join(gunicorn_args) or '(none)'}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
