"""Requests/s and p50/p99 latency of each operation over HTTP, as a ratio of the floor app.

    python -m bench.run_http [--seconds 10] [--rounds 3] [--connections 16] [gunicorn args...]

Starts its own redis-server and two gunicorns (the floor app and the service) with the same
gunicorn.conf.py; extra arguments go to both gunicorns (e.g. `-k sync -w 4`). Each round runs
every operation once with wrk; the table shows medians over rounds.

Besides requests/s (which on a shared 2-core VM swings by 2x from run to run), it reads the CPU
time the gunicorn workers and redis-server spent (/proc/<pid>/stat) and prints CPU per request:
a steadier measure of what each operation costs, and the one the ratios are also given in.
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
from harness.servers import GunicornServer, RedisServer

WRK_DIR = Path(__file__).resolve().parent / "wrk"
PROJECT, QUEUE = "bench", "q"
THREADS = 2
STRIDE = 100_000
POOL = 20_000
OPS = ["floor", "insert", "lease1", "lease100", "get", "update", "delete"]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    """utime + stime of these processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def workers(master_pid: int) -> list:
    """The gunicorn workers of a master."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == master_pid:
            out.append(int(stat.parent.name))
    return out


def wrk(url: str, script: str, seconds: int, connections: int, base: str, app_pids=(), redis_pid=None) -> dict:
    app_before, redis_before = cpu_seconds(app_pids), cpu_seconds([redis_pid] if redis_pid else [])
    out = subprocess.run(
        ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
         str(WRK_DIR / f"{script}.lua"), url, "--", base, str(STRIDE), str(POOL)],
        capture_output=True, text=True, env={**os.environ, "WRK_DIR": str(WRK_DIR)}, check=True).stdout

    def latency(label):
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    app_cpu = cpu_seconds(app_pids) - app_before
    redis_cpu = cpu_seconds([redis_pid] if redis_pid else []) - redis_before
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency("50%"), "p99": latency("99%"), "errors": int(errors.group(1)) if errors else 0,
            "app_us": app_cpu / max(1, requests_done) * 1e6, "redis_us": redis_cpu / max(1, requests_done) * 1e6}


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
    parser.add_argument("--ops", default=",".join(OPS), help="which operations (floor is always run)")
    args, gunicorn_args = parser.parse_known_args(argv)

    redis_server = RedisServer().start()
    env = {"REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"}
    floor = GunicornServer(env, app="bench.floor_app:app", extra_args=gunicorn_args).start()
    service = GunicornServer(env, extra_args=gunicorn_args).start()
    client = redis.Redis.from_url(redis_server.url)
    base = f"/taskqueue/v1beta2/projects/{PROJECT}/taskqueues/{QUEUE}"
    ops = ["floor"] + [op for op in args.ops.split(",") if op in OPS and op != "floor"]
    results = {op: [] for op in ops}
    try:
        for round_no in range(args.rounds):
            for op in ops:
                prepare(client, op)
                server = floor if op == "floor" else service
                results[op].append(wrk(server.url, op, args.seconds, args.connections, base,
                                       workers(server.proc.pid), redis_server.proc.pid))
                print(f"round {round_no + 1} {op:9} {results[op][-1]}", file=sys.stderr)
    finally:
        service.stop()
        floor.stop()
        redis_server.stop()

    def med(op, key):
        return statistics.median(r[key] for r in results[op])

    floor_rps = med("floor", "rps")
    floor_cpu = med("floor", "app_us") + med("floor", "redis_us")
    print(f"\n{'operation':10} {'req/s':>7} {'tasks/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'x floor':>8} "
          f"{'app CPU us':>11} {'redis us':>9} {'floor/CPU':>10} {'non-2xx':>8}")
    for op in ops:
        rps = med(op, "rps")
        tasks = rps * (100 if op == "lease100" else 1)
        cpu = med(op, "app_us") + med(op, "redis_us")
        print(f"{op:10} {rps:7.0f} {tasks:8.0f} {med(op, 'p50'):7.2f} {med(op, 'p99'):7.2f} {rps / floor_rps:8.2f} "
              f"{med(op, 'app_us'):11.0f} {med(op, 'redis_us'):9.0f} {floor_cpu / cpu:10.2f} "
              f"{sum(r['errors'] for r in results[op]):8d}")
    print(f"\nwrk -t{THREADS} -c{args.connections} -d{args.seconds}s, {args.rounds} rounds, medians; "
          f"gunicorn extra args: {' '.join(gunicorn_args) or '(none)'}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
