"""Our push queues side by side with the peer emulator `gcloud-tasks-emulator` (PyPI; guide 5.3),
measured in the same run, in interleaved rounds.

    python -m bench.run_peer                 # 5 rounds (~5 min, plus the peer's venv the first time)
    python -m bench.run_peer --quick         # 2 small rounds (~1 min)
    python -m bench.run_peer --for-readme    # refuses a loaded machine, marks loaded figures

The peer speaks gRPC only and pins protobuf<5, so it runs from a venv of its own, made by this
script the first time under ~/.cache/queueservice-bench/ (`python -m venv`, then
`pip install gcloud-tasks-emulator==0.6.2`; --peer-venv to put it elsewhere). It is started as
`gcloud-tasks-emulator start -p PORT -t RECEIVER_PORT -H 127.0.0.1 -q` (-q: errors only, as our
service logs warnings only). Ours runs as shipped (gunicorn, WEB_CONCURRENCY=2: two workers, each
serving and dispatching) on its own redis-server. Both send HTTP tasks to the same receiver.

Three clients, each in every round, in turn:
  ours/http   our Cloud Tasks v2 REST API in plain HTTP (requests, JSON);
  ours/rest   our API through google-cloud-tasks' REST transport (the client the peer's users have);
  peer/grpc   the peer through google-cloud-tasks' gRPC transport (same library, same version).
Measured with each:
  create/s    --create-tasks tasks due at once, created by --threads threads (a client each) into
              a running queue as fast as they go (the dispatcher delivers them meanwhile);
              also CPU µs per task of the server's processes (ours: gunicorn + redis-server),
              from creation until every task arrived.
  latency     tasks created at --latency-rate/s for --latency-secs, due at once: arrival - the
              moment the create call was made; p50 and p99.
  delivery/s  --delivery-tasks tasks created into --delivery-queues (4) paused queues, then the
              queues resumed: tasks / (last arrival - the first resume call). Each queue of ours
              is capped by its rate limit, 500/s (Google's maximum); the peer has no rate limits.
The table shows medians over rounds and ratios ours/peer (for latency, peer/ours: above 1 means
ours is better everywhere).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from bench.measure import ReadmeGuard, Window, fmt, median, percentile
from bench.push_stack import PARENT, Stack, now_usec, unique
from bench.receiver import Receiver
from harness.servers import free_port, wait_until

PEER_PACKAGE = "gcloud-tasks-emulator==0.6.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "queueservice-bench"
FULL = dict(rounds=5, create_tasks=1000, latency_secs=10, delivery_tasks=2000)
QUICK = dict(rounds=2, create_tasks=300, latency_secs=3, delivery_tasks=500)


# --- the peer ------------------------------------------------------------------------------------

def peer_venv(folder: Path, package: str) -> Path:
    """The peer's own venv (made the first time): the path of its `gcloud-tasks-emulator`."""
    command = folder / "bin" / "gcloud-tasks-emulator"
    if not command.exists():
        print(f"making the peer's venv in {folder} ({package}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(folder / "bin" / "pip"), "install", "--quiet", package], check=True)
    return command


class Peer:
    """gcloud-tasks-emulator as a child process, sending every task to the receiver's port."""

    def __init__(self, command: Path, receiver: Receiver):
        self.command, self.receiver = command, receiver
        self.port = free_port()
        self.proc = None

    def start(self) -> "Peer":
        self.log = open(CACHE / "peer.log", "w")
        self.proc = subprocess.Popen([str(self.command), "start", "-p", str(self.port), "-t", str(self.receiver.port),
                                      "-H", "127.0.0.1", "-q"], stdout=self.log, stderr=self.log)
        wait_until(lambda: __import__("socket").create_connection(("127.0.0.1", self.port), 0.5).close() or True,
                   timeout=30, what="gcloud-tasks-emulator")
        return self

    def version(self) -> str:
        pip = self.command.with_name("pip")
        out = subprocess.run([str(pip), "show", "gcloud-tasks-emulator"], capture_output=True, text=True).stdout
        return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Version")), "?")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# --- the clients ---------------------------------------------------------------------------------

class PlainHttp:
    """Our REST API with requests and JSON, as run_push.py calls it."""

    def __init__(self, base_url: str, receiver_url: str):
        self.base, self.target = base_url, receiver_url + "/t"
        self.session = requests.Session()

    def _post(self, path: str, body: dict) -> dict:
        answer = self.session.post(f"{self.base}/v2/{path}", json=body)
        answer.raise_for_status()
        return answer.json()

    def create_queue(self, queue_id: str) -> None:
        self._post(f"{PARENT}/queues", {"name": f"{PARENT}/queues/{queue_id}"})

    def delete_queue(self, queue_id: str) -> None:
        self.session.delete(f"{self.base}/v2/{PARENT}/queues/{queue_id}").raise_for_status()

    def pause(self, queue_id: str) -> None:
        self._post(f"{PARENT}/queues/{queue_id}:pause", {})

    def resume(self, queue_id: str) -> None:
        self._post(f"{PARENT}/queues/{queue_id}:resume", {})

    def create_task(self, queue_id: str) -> tuple:
        sent = now_usec()
        task = self._post(f"{PARENT}/queues/{queue_id}/tasks",
                          {"task": {"httpRequest": {"url": self.target, "httpMethod": "POST"}}})
        return sent, now_usec(), task["name"].rsplit("/", 1)[-1]


class CloudTasksLibrary:
    """google-cloud-tasks' CloudTasksClient, over REST (ours) or gRPC (the peer)."""

    def __init__(self, receiver_url: str, rest_url: str | None = None, grpc_port: int | None = None):
        from google.cloud import tasks_v2

        self.tasks_v2, self.target = tasks_v2, receiver_url + "/t"
        if rest_url:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials

            self.client = tasks_v2.CloudTasksClient(transport="rest", credentials=AnonymousCredentials(),
                                                    client_options=ClientOptions(api_endpoint=rest_url))
        else:
            import grpc
            from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            self.client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))

    def create_queue(self, queue_id: str) -> None:
        self.client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/{queue_id}"})

    def delete_queue(self, queue_id: str) -> None:
        self.client.delete_queue(name=f"{PARENT}/queues/{queue_id}")

    def pause(self, queue_id: str) -> None:
        self.client.pause_queue(name=f"{PARENT}/queues/{queue_id}")

    def resume(self, queue_id: str) -> None:
        self.client.resume_queue(name=f"{PARENT}/queues/{queue_id}")

    def create_task(self, queue_id: str) -> tuple:
        sent = now_usec()
        task = self.client.create_task(parent=f"{PARENT}/queues/{queue_id}", task={
            "http_request": {"url": self.target, "http_method": self.tasks_v2.HttpMethod.POST}})
        return sent, now_usec(), task.name.rsplit("/", 1)[-1]


class System:
    """One server and one way of calling it: `new_client()` makes a client (one per thread)."""

    def __init__(self, label: str, new_client, pids, describe: str):
        self.label, self.new_client, self.pids, self.describe = label, new_client, pids, describe
        self.client = new_client()


# --- measurements --------------------------------------------------------------------------------

def arrivals(receiver: Receiver, queue_id: str, since: int) -> dict:
    """{task id: arrival µs} of one queue (the first arrival of each task)."""
    out = {}
    for ns, name, queue, _ in receiver.records(since):
        if queue == queue_id and name not in out:
            out[name] = ns // 1000
    return out


def wait_arrivals(receiver: Receiver, queue_id: str, since: int, ids, timeout: float) -> dict:
    wanted, deadline = set(ids), time.monotonic() + timeout
    seen = arrivals(receiver, queue_id, since)
    while not wanted <= seen.keys() and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = arrivals(receiver, queue_id, since)
    return seen


def create_throughput(system: System, receiver: Receiver, count: int, threads: int) -> dict:
    queue_id = unique("create")
    system.client.create_queue(queue_id)
    since = receiver.count()
    clients = [system.new_client() for _ in range(threads)]
    ids, lock, barrier = [], threading.Lock(), threading.Barrier(threads + 1)

    def work(client, n):
        barrier.wait()
        mine = [client.create_task(queue_id)[2] for _ in range(n)]
        with lock:
            ids.extend(mine)

    workers = [threading.Thread(target=work, args=(c, count // threads + (i < count % threads)))
               for i, c in enumerate(clients)]
    for worker in workers:
        worker.start()
    window = Window({"server": system.pids})
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    took = time.perf_counter() - started
    seen = wait_arrivals(receiver, queue_id, since, ids, timeout=60)
    window.stop()
    system.client.delete_queue(queue_id)
    return {"create/s": len(ids) / took, "CPU µs/task": window.cpu("server") / max(1, len(ids)) * 1e6,
            "undelivered": len(set(ids) - seen.keys()), "window": window}


def latency(system: System, receiver: Receiver, rate: float, secs: float) -> dict:
    queue_id = unique("lat")
    system.client.create_queue(queue_id)
    since = receiver.count()
    created = {}
    window = Window({"server": system.pids})
    start = now_usec() + 100_000
    for i in range(int(rate * secs)):
        delay = (start + i * 1e6 / rate - now_usec()) / 1e6
        if delay > 0:
            time.sleep(delay)
        sent, _, task_id = system.client.create_task(queue_id)
        created[task_id] = sent
    seen = wait_arrivals(receiver, queue_id, since, created, timeout=30)
    window.stop()
    system.client.delete_queue(queue_id)
    ms = [(seen[k] - sent) / 1000 for k, sent in created.items() if k in seen]
    return {"p50 ms": median(ms), "p99 ms": percentile(ms, 99), "undelivered": len(created) - len(ms),
            "window": window}


def delivery(system: System, receiver: Receiver, count: int, queues: int) -> dict:
    """`count` tasks spread over `queues` paused queues, then all resumed: a queue of ours sends at
    most 500/s (Google's limit), so several queues show what the dispatcher itself can do."""
    queue_ids = [unique("deliver") for _ in range(queues)]
    for queue_id in queue_ids:
        system.client.create_queue(queue_id)
        system.client.pause(queue_id)
    ids = {queue_id: [] for queue_id in queue_ids}
    for n in range(count):
        queue_id = queue_ids[n % queues]
        ids[queue_id].append(system.client.create_task(queue_id)[2])
    since = receiver.count()
    time.sleep(0.3)
    window = Window({"server": system.pids})
    resumed = now_usec()
    for queue_id in queue_ids:
        system.client.resume(queue_id)
    seen = {}
    for queue_id in queue_ids:
        seen.update(wait_arrivals(receiver, queue_id, since, ids[queue_id], timeout=count / 50 + 30))
    window.stop()
    for queue_id in queue_ids:
        system.client.delete_queue(queue_id)
    last = max(seen.values(), default=resumed)
    wanted = {task for tasks in ids.values() for task in tasks}
    return {"delivered/s": len(seen) / max(1e-6, (last - resumed) / 1e6), "undelivered": len(wanted - seen.keys()),
            "CPU µs/task": window.cpu("server") / max(1, len(seen)) * 1e6, "window": window}


# --- the run -------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--create-tasks", type=int)
    parser.add_argument("--threads", type=int, default=4, help="client threads creating tasks")
    parser.add_argument("--latency-rate", type=float, default=50.0)
    parser.add_argument("--latency-secs", type=float)
    parser.add_argument("--delivery-tasks", type=int)
    parser.add_argument("--delivery-queues", type=int, default=4,
                        help="queues the delivery tasks are spread over (ours: 500/s at most each)")
    parser.add_argument("--web-workers", type=int, default=2, help="our gunicorn workers (shipped default: 2)")
    parser.add_argument("--peer-venv", type=Path, default=CACHE / "peer-venv")
    parser.add_argument("--peer-package", default=PEER_PACKAGE)
    parser.add_argument("--for-readme", action="store_true",
                        help="refuse to start with load average > 0.5; mark figures taken on a loaded machine")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    CACHE.mkdir(parents=True, exist_ok=True)
    command = peer_venv(args.peer_venv, args.peer_package)
    guard = ReadmeGuard(args.for_readme)
    guard.check_start()
    started = time.monotonic()
    stack = Stack(web_workers=args.web_workers, apart_workers=0).start()
    peer = None
    try:
        receiver = stack.receiver
        peer = Peer(command, receiver).start()
        ours_pids = lambda: stack.service_pids() + [stack.redis_server.proc.pid]  # noqa: E731
        systems = [
            System("ours/http", lambda: PlainHttp(stack.service.url, receiver.url), ours_pids,
                   "our v2 REST API, plain HTTP (requests, JSON)"),
            System("ours/rest", lambda: CloudTasksLibrary(receiver.url, rest_url=stack.service.url), ours_pids,
                   "our v2 REST API through google-cloud-tasks (transport=rest)"),
            System("peer/grpc", lambda: CloudTasksLibrary(receiver.url, grpc_port=peer.port), lambda: [peer.proc.pid],
                   f"gcloud-tasks-emulator {peer.version()} through google-cloud-tasks (gRPC)"),
        ]
        from google.cloud import tasks_v2

        print(f"ours: {stack.describe()}")
        print(f"clients: google-cloud-tasks {tasks_v2.__version__ if hasattr(tasks_v2, '__version__') else ''}")
        for system in systems:
            print(f"  {system.label}: {system.describe}")
        results = {s.label: {"create": [], "latency": [], "delivery": []} for s in systems}
        for round_no in range(args.rounds):
            for system in (systems if round_no % 2 == 0 else systems[::-1]):
                r = results[system.label]
                r["create"].append(create_throughput(system, receiver, args.create_tasks, args.threads))
                r["latency"].append(latency(system, receiver, args.latency_rate, args.latency_secs))
                r["delivery"].append(delivery(system, receiver, args.delivery_tasks, args.delivery_queues))
                for kind in ("create", "latency", "delivery"):
                    guard.mark(f"round {round_no + 1} {system.label} {kind}", r[kind][-1]["window"])
                print(f"round {round_no + 1} {system.label:9}: "
                      f"create {r['create'][-1]['create/s']:.0f}/s ({r['create'][-1]['CPU µs/task']:.0f} µs CPU/task), "
                      f"latency p50 {fmt(r['latency'][-1]['p50 ms'], '.1f')} p99 {fmt(r['latency'][-1]['p99 ms'], '.1f')} ms, "
                      f"delivery {r['delivery'][-1]['delivered/s']:.0f}/s; "
                      f"undelivered {r['create'][-1]['undelivered']}/{r['latency'][-1]['undelivered']}/"
                      f"{r['delivery'][-1]['undelivered']}; {r['delivery'][-1]['window'].load_line()}", flush=True)
        report(results, args)
    finally:
        if peer:
            peer.stop()
        stack.stop()
    print(f"\nran {time.monotonic() - started:.0f} s")
    sys.exit(guard.finish())


def report(results: dict, args) -> None:
    rows = [("create/s", "create", "create/s", True), ("create+deliver CPU µs/task", "create", "CPU µs/task", False),
            ("latency p50 ms", "latency", "p50 ms", False), ("latency p99 ms", "latency", "p99 ms", False),
            ("delivered/s", "delivery", "delivered/s", True), ("delivery CPU µs/task", "delivery", "CPU µs/task", False)]
    labels = list(results)
    print(f"\nmedians of {args.rounds} rounds; create: {args.create_tasks} tasks by {args.threads} threads; latency: "
          f"{args.latency_rate:g}/s for {args.latency_secs:g} s; delivery: {args.delivery_tasks} tasks over "
          f"{args.delivery_queues} queues")
    print(f"{'':27}" + "".join(f"{label:>12}" for label in labels) + f"{'http/peer':>11}{'rest/peer':>11}")
    for title, kind, key, higher_better in rows:
        values = [median([r[key] for r in results[label][kind] if r[key] is not None]) for label in labels]
        peer = values[-1]

        def ratio(ours):
            if ours is None or not peer:
                return None
            return ours / peer if higher_better else peer / ours
        print(f"{title:27}" + "".join(f"{fmt(v, '.1f'):>12}" for v in values)
              + f"{fmt(ratio(values[0]), '.2f'):>11}{fmt(ratio(values[1]), '.2f'):>11}")
    undelivered = {label: sum(r["undelivered"] for kind in results[label].values() for r in kind) for label in labels}
    print("ratios: above 1 means ours is better (faster, or cheaper, or sooner); "
          f"tasks never delivered: {undelivered}")


if __name__ == "__main__":
    main()
