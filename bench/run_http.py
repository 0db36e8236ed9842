"""Requests/s and p50/p99 latency of each operation over HTTP, as a ratio of the floor app.

    python -m bench.run_http [--seconds 10] [--rounds 3] [--connections 16] [gunicorn args...]
    python -m bench.run_http --embedded [...]

Starts its own redis-server and two gunicorns (the floor app and the service) with the same
gunicorn.conf.py; extra arguments go to both gunicorns (e.g. `-k sync -w 4`). Each round runs
every operation once with wrk; the table shows medians over rounds.

With --embedded, there is no floor app: the service on the external redis-server (no persistence,
as in the runs above) is compared with the service with REDIS_URL unset, on its embedded
valkey-server, once per --data-fsync value (DATA_DIR in a temporary folder, or under --data-dir).
Each operation runs on every service within a round, in alternating order, and the table gives
each one's requests/s as a ratio of the external one's: of the medians, and paired (the median of
the ratios within each round, steadier when the machine's load drifts).

Besides requests/s (which on a shared 2-core VM swings by 2x from run to run), it reads the CPU
time the gunicorn workers and redis-server spent (/proc/<pid>/stat) and prints CPU per request:
a steadier measure of what each operation costs, and the one the ratios are also given in.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import shutil
import subprocess
import sys
import tempfile
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


def workers(master_pid: int, besides=()) -> list:
    """The gunicorn workers of a master (the children that are not in `besides`, such as its store server)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == master_pid and int(stat.parent.name) not in besides:
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


class Target:
    """A service under test: its gunicorn, a client of its store, and the store server's pid."""

    def __init__(self, label, server, client, redis_pid):
        self.label, self.server, self.client, self.redis_pid = label, server, client, redis_pid


def embedded_target(data_dir: Path, fsync: str, gunicorn_args) -> Target:
    """The service as `python -m queueservice` runs it with REDIS_URL unset: its own valkey-server."""
    from queueservice.redis_helpers.embedded import LOCK_FILE, SOCKET_FILE

    data_dir.mkdir(parents=True, exist_ok=True)
    server = GunicornServer({"REDIS_URL": "", "DATA_DIR": str(data_dir), "DATA_FSYNC": fsync, "LOG_LEVEL": "WARNING"},
                            extra_args=gunicorn_args).start()
    store_pid = int((data_dir / LOCK_FILE).read_text().split()[0])
    client = redis.Redis(unix_socket_path=str(data_dir / SOCKET_FILE))
    return Target(f"emb:{fsync}", server, client, store_pid)


def compare_embedded(args, gunicorn_args, ops):
    """embedded / external, each operation run on both within a round (interleaved), medians."""
    redis_server = RedisServer().start()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="qs-bench-data-"))
    targets = []
    try:
        external = GunicornServer({"REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"},
                                  extra_args=gunicorn_args).start()
        targets.append(Target("external", external, redis.Redis.from_url(redis_server.url), redis_server.proc.pid))
        for fsync in args.data_fsync.split(","):
            targets.append(embedded_target(data_dir / fsync, fsync, gunicorn_args))
        base = f"/taskqueue/v1beta2/projects/{PROJECT}/taskqueues/{QUEUE}"
        results = {(t.label, op): [] for t in targets for op in ops}
        for round_no in range(args.rounds):
            for op in ops:
                order = targets if round_no % 2 == 0 else targets[::-1]
                for target in order:
                    prepare(target.client, op)
                    got = wrk(target.server.url, op, args.seconds, args.connections, base,
                              workers(target.server.proc.pid, besides=(target.redis_pid,)), target.redis_pid)
                    results[(target.label, op)].append(got)
                    print(f"round {round_no + 1} {target.label:8} {op:9} {got} load {os.getloadavg()[0]:.2f}",
                          file=sys.stderr)
    finally:
        for target in targets:
            target.server.stop()
        redis_server.stop()
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)

    def med(label, op, key):
        return statistics.median(r[key] for r in results[(label, op)])

    def paired(label, op):
        """The median over rounds of this round's req/s against the external one's in the same round."""
        return statistics.median(r["rps"] / e["rps"] for r, e in zip(results[(label, op)], results[("external", op)]))

    print(f"\n{'operation':10} {'store':14} {'req/s':>7} {'× external':>10} {'paired':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'app CPU us':>11} {'store CPU us':>12}")
    for op in ops:
        ext = med("external", op, "rps")
        for target in targets:
            label = target.label
            print(f"{op:10} {label:14} {med(label, op, 'rps'):7.0f} {med(label, op, 'rps') / ext:10.2f} "
                  f"{paired(label, op):7.2f} "
                  f"{med(label, op, 'p50'):7.2f} {med(label, op, 'p99'):7.2f} {med(label, op, 'app_us'):11.0f} "
                  f"{med(label, op, 'redis_us'):12.0f}")
    print(f"\nwrk -t{THREADS} -c{args.connections} -d{args.seconds}s, {args.rounds} rounds interleaved, medians; "
          f"gunicorn extra args: {' '.join(gunicorn_args) or '(none)'}; {os.cpu_count()} CPUs; "
          f"load average now {open('/proc/loadavg').read().split()[0]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--ops", default=",".join(OPS), help="which operations (floor is always run)")
    parser.add_argument("--embedded", action="store_true",
                        help="compare the embedded store with an external redis-server (no floor)")
    parser.add_argument("--data-dir", help="with --embedded: DATA_DIR of the embedded stores (kept)")
    parser.add_argument("--data-fsync", default="second,always",
                        help="with --embedded: one embedded service per DATA_FSYNC value (default: second,always)")
    args, gunicorn_args = parser.parse_known_args(argv)
    if args.embedded:
        compare_embedded(args, gunicorn_args, [op for op in args.ops.split(",") if op in OPS and op != "floor"])
        return

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
