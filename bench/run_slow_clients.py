"""Ordinary request latency while slow clients hold connections open.

    python -m bench.run_slow_clients [--slow 64] [--calls 40]

Starts redis-server and gunicorn (2 workers x 8 threads), opens --slow raw connections (a quarter
trickle a request head, a quarter a body, half idle), then times --calls ordinary requests.
"""

from __future__ import annotations

import argparse
import os
import statistics

from harness.servers import GunicornServer, RedisServer
from harness.slow_clients import SlowClients, ordinary_latencies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", type=int, default=64)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    redis_server = RedisServer().start()
    service = GunicornServer({"REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"}).start()
    try:
        quiet = ordinary_latencies(service.url, args.calls)
        slow = SlowClients(service.port, args.slow).start()
        try:
            loaded = ordinary_latencies(service.url, args.calls, timeout=120)
        finally:
            slow.stop()
    finally:
        service.stop()
        redis_server.stop()
    for label, times in (("no slow clients", quiet), (f"{args.slow} slow clients", loaded)):
        ms = sorted(t * 1000 for t in times)
        print(f"{label:<18} p50 {statistics.median(ms):8.1f} ms   max {ms[-1]:8.1f} ms")


if __name__ == "__main__":
    main()
