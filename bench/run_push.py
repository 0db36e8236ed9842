"""Cloud Tasks push dispatch: throughput, latency, schedule accuracy, rate limits, idle CPU, and cost
against queue depth (issue 12, goals 4 and 5).

    python -m bench.run_push                      # every scenario, full durations (~5 min)
    python -m bench.run_push --quick              # every scenario, short and small (~1 min idle)
    python -m bench.run_push --scenarios rates,idle --rate-secs 20
    python -m bench.run_push --for-readme         # refuses a loaded machine, marks loaded figures

Starts its own redis-server, the receiver (bench/receiver.py: answers 200 at once, records the
arrival time of each task) and our service: by default gunicorn with 1 worker plus one
`python -m queueservice worker`, i.e. TWO dispatcher processes on one Redis (--web-workers,
--apart-workers change that). Tasks are HTTP tasks to the receiver. They are created through the
Cloud Tasks v2 REST API in plain HTTP (requests, JSON) where creation is part of what is measured,
and otherwise pre-filled through the store's own `PushQueueStore.create_task`, pipelined.

Scenarios (each on queues of its own, deleted afterwards):
  throughput  a queue at maxDispatchesPerSecond 500 (maxBurstSize as the API derives it), pre-filled
              with more tasks than it can send, all due at one instant T: delivered/s in each second
              from T, and overall (goal >= 450/s sustained).
  latency     tasks created at 100/s over REST, due at once: arrival - the moment the create request
              was sent (goal p50 <= 10 ms, p99 <= 50 ms).
  scheduled   tasks created at 50/s with scheduleTime T 1-2 s ahead (µs, not whole seconds):
              arrival - T; min must be >= 0 (never early), goal p99 <= 50 ms.
  rates       queues at 5, 50, 500 /s, pre-filled, due at T: the steady rate after the burst
              ((n-1) / time between the first and last arrival from T+1 s on) against the
              configured rate (goal within 5%), and the window's count against the token bucket's
              allowance (burst + rate x seconds).
  depth       one queue holding 1 thousand ... 1 million tasks due tomorrow: CPU µs per create
              (REST, one client, due tomorrow) and per dispatch (tasks due at T, pre-filled) of
              the service processes and of redis-server (goal: flat).
  idle        the same queue with 1 million tasks due tomorrow, nothing due: CPU of the
              dispatcher processes and of redis-server over 30 s (goal < 2% of a core).
  paused      a paused queue holding 10 due tasks, nothing else to do: CPU over 10 s (an idle
              service too; the same goal).

CPU is read from /proc (user + system) per process group: dispatchers (the processes that run a
dispatcher), service (those plus gunicorn's master), redis-server, receiver. The receiver's
capacity is measured with wrk first and its CPU shown in each scenario: it is not the bottleneck.
Each scenario also shows Redis commands/s (INFO commandstats, the top five; commands run inside
Lua scripts count too, `evalsha` is the script calls): a dispatcher that polls shows up there.
The load average is printed before and after each scenario, with the cores the machine's other
processes used meanwhile; with --for-readme a loaded machine (> 0.5) is refused or its figures
marked, and the run exits 3.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.measure import ReadmeGuard, Window, fmt, median, percentile
from bench.push_stack import DAY_USEC, Stack, now_usec, unique

SCENARIOS = ["throughput", "latency", "scheduled", "rates", "depth", "idle", "paused"]
FULL = dict(throughput_secs=30, latency_secs=20, scheduled_secs=20, rate_secs=20, idle_secs=30, paused_secs=10,
            depths="1000,10000,100000,1000000", depth_calls=2000, idle_depth=1_000_000)
QUICK = dict(throughput_secs=3, latency_secs=3, scheduled_secs=2, rate_secs=3, idle_secs=4, paused_secs=2,
             depths="1000,10000,30000", depth_calls=300, idle_depth=30_000)
GOALS = {"throughput": 450, "latency_p50": 10, "latency_p99": 50, "scheduled_p99": 50, "rate_error": 5,
         "idle_cpu": 2}


def verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


def sleep_until_usec(usec: int) -> None:
    delay = (usec - now_usec()) / 1e6
    if delay > 0:
        time.sleep(delay)


def due_after_fill(stack: Stack, count: int, margin_secs: float = 1.5) -> int:
    """A due time far enough ahead that a fill of `count` tasks ends well before it: twice as long
    as the last fills took, and at least as long as at 5000 tasks/s (a fill slows down a lot on a
    loaded machine)."""
    secs = max(2 * stack.fills.seconds_for(count), count / 5000)
    return now_usec() + int((secs + margin_secs) * 1e6)


def fill_due_at(stack: Stack, queue_id: str, count: int, margin_secs: float = 1.5) -> int:
    """Pre-fill `count` tasks due at one instant T after the fill; T (µs)."""
    due = due_after_fill(stack, count, margin_secs)
    took = stack.fill(queue_id, count, due)
    left = (due - now_usec()) / 1e6
    print(f"  filled {count} tasks in {took:.2f} s; due {left:.2f} s later", flush=True)
    if left < 0.3:
        print("  !! the fill ended less than 0.3 s before the tasks were due: the first second is suspect")
    return due


def busiest_second(times: list) -> int:
    """The most of these (sorted, µs) times within any one second."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1_000_000:
            first += 1
        most = max(most, last - first + 1)
    return most


def cpu_line(window: Window) -> str:
    calls = ", ".join(f"{name} {n / window.seconds:.0f}" for name, n in list(window.counted().items())[:5])
    return (f"CPU % of a core: dispatchers {window.percent('dispatchers'):.1f}, service {window.percent('service'):.1f}, "
            f"redis {window.percent('redis'):.1f}, receiver {window.percent('receiver'):.1f}; "
            f"Redis commands/s: {calls}")


# --- scenarios -------------------------------------------------------------------------------

def throughput(stack: Stack, args, guard: ReadmeGuard) -> None:
    secs = args.throughput_secs
    queue_id = unique("tput")
    queue = stack.create_queue(queue_id, rate=500)
    burst = queue["rateLimits"]["maxBurstSize"]
    count = int(500 * secs * 1.2) + burst + 500  # more than the queue may send in the window
    print(f"\n== throughput: maxDispatchesPerSecond 500, maxBurstSize {burst} (derived), {secs} s", flush=True)
    since = stack.receiver.count()
    due = fill_due_at(stack, queue_id, count)
    sleep_until_usec(due - 100_000)
    window = Window(stack.groups(), stack.redis_commands)
    sleep_until_usec(due + secs * 1_000_000)
    window.stop()
    stack.delete_queue(queue_id)
    arrivals = sorted(t for t, _, _ in stack.arrivals(queue_id, since) if t >= due)
    inside = [t for t in arrivals if t < due + secs * 1_000_000]
    per_second = [0] * secs
    for t in inside:
        per_second[(t - due) // 1_000_000] += 1
    overall = len(inside) / secs
    after_first = sum(per_second[1:]) / max(1, secs - 1)
    print(f"  delivered/s, second by second from T: {' '.join(str(n) for n in per_second)}")
    print(f"  overall {overall:.1f}/s; from the 2nd second on {after_first:.1f}/s; first arrival "
          f"{fmt((arrivals[0] - due) / 1000 if arrivals else None, '.1f')} ms after T; "
          f"tasks left unsent at the end: {count - len(arrivals)} (must be > 0)")
    print(f"  -> {after_first:.1f}/s sustained: {verdict(after_first >= GOALS['throughput'])} (>= {GOALS['throughput']}/s)")
    cost = (window.cpu("service") + window.cpu("redis")) / max(1, len(inside)) * 1e6
    print(f"  {cpu_line(window)}; service + redis CPU per dispatch {cost:.0f} µs")
    print(f"  {guard.mark('throughput', window)}", flush=True)


def latency(stack: Stack, args, guard: ReadmeGuard, rate: float = 100.0) -> None:
    secs = args.latency_secs
    queue_id = unique("lat")
    stack.create_queue(queue_id)
    print(f"\n== latency: create over REST at {rate:.0f}/s for {secs} s, due at once; "
          "create-to-delivery = arrival - the moment the create request was sent", flush=True)
    since = stack.receiver.count()
    created, slips = {}, 0
    window = Window(stack.groups(), stack.redis_commands)
    start = now_usec() + 100_000
    for i in range(int(rate * secs)):
        at = start + int(i * 1e6 / rate)
        if now_usec() > at + 10_000:
            slips += 1
        sleep_until_usec(at)
        sent, answered, task_id = stack.create_task(queue_id)
        created[task_id] = (sent, answered)
    stack.receiver.wait_for(since + len(created), timeout=10)
    window.stop()
    stack.delete_queue(queue_id)
    seen = {name: t for t, name, _ in stack.arrivals(queue_id, since)}
    from_sent = [(seen[k] - s) / 1000 for k, (s, _) in created.items() if k in seen]
    from_answer = [(seen[k] - a) / 1000 for k, (_, a) in created.items() if k in seen]
    create_ms = [(a - s) / 1000 for s, a in created.values()]
    p50, p99 = median(from_sent), percentile(from_sent, 99)
    print(f"  {len(created)} created ({slips} more than 10 ms late), {len(from_sent)} delivered")
    print(f"  create-to-delivery ms: p50 {fmt(p50, '.2f')}, p90 {fmt(percentile(from_sent, 90), '.2f')}, "
          f"p99 {fmt(p99, '.2f')}, max {fmt(max(from_sent, default=None), '.2f')}; "
          f"from the create's answer: p50 {fmt(median(from_answer), '.2f')}, p99 {fmt(percentile(from_answer, 99), '.2f')}; "
          f"create request itself: p50 {fmt(median(create_ms), '.2f')}, p99 {fmt(percentile(create_ms, 99), '.2f')}")
    ok = p50 is not None and p50 <= GOALS["latency_p50"] and p99 <= GOALS["latency_p99"] and len(from_sent) == len(created)
    print(f"  -> {verdict(ok)} (p50 <= {GOALS['latency_p50']} ms, p99 <= {GOALS['latency_p99']} ms)")
    print(f"  {cpu_line(window)}")
    print(f"  {guard.mark('latency', window)}", flush=True)


def scheduled(stack: Stack, args, guard: ReadmeGuard, rate: float = 50.0) -> None:
    secs = args.scheduled_secs
    queue_id = unique("sched")
    stack.create_queue(queue_id)
    print(f"\n== scheduled: create over REST at {rate:.0f}/s for {secs} s, each with scheduleTime T = "
          "now + 1..2 s (random µs); lateness = arrival - T", flush=True)
    since = stack.receiver.count()
    due = {}
    window = Window(stack.groups(), stack.redis_commands)
    start = now_usec() + 100_000
    for i in range(int(rate * secs)):
        sleep_until_usec(start + int(i * 1e6 / rate))
        t = now_usec() + 1_000_000 + random.randrange(1_000_000)
        _, _, task_id = stack.create_task(queue_id, schedule_usec=t)
        due[task_id] = t
    sleep_until_usec(max(due.values()) + 500_000)
    stack.receiver.wait_for(since + len(due), timeout=10)
    window.stop()
    stack.delete_queue(queue_id)
    seen = {name: t for t, name, _ in stack.arrivals(queue_id, since)}
    late = [(seen[k] - t) / 1000 for k, t in due.items() if k in seen]
    early = [x for x in late if x < 0]
    print(f"  {len(due)} tasks, {len(late)} delivered, {len(early)} early")
    print(f"  arrival - T, ms: min {fmt(min(late, default=None), '.2f')}, p50 {fmt(median(late), '.2f')}, "
          f"p99 {fmt(percentile(late, 99), '.2f')}, max {fmt(max(late, default=None), '.2f')}")
    ok = bool(late) and not early and percentile(late, 99) <= GOALS["scheduled_p99"] and len(late) == len(due)
    print(f"  -> {verdict(ok)} (min >= 0, p99 <= {GOALS['scheduled_p99']} ms)")
    print(f"  {cpu_line(window)}")
    print(f"  {guard.mark('scheduled', window)}", flush=True)


def rates(stack: Stack, args, guard: ReadmeGuard) -> None:
    secs = args.rate_secs
    print(f"\n== rates: measured vs configured maxDispatchesPerSecond over {secs} s with "
          f"{len(stack.dispatcher_pids())} dispatcher processes", flush=True)
    rows = []
    for rate in [float(r) for r in args.rates.split(",")]:
        queue_id = unique(f"rate{rate:g}")
        burst = stack.create_queue(queue_id, rate=rate)["rateLimits"]["maxBurstSize"]
        count = int(rate * secs * 1.3) + burst + 20
        since = stack.receiver.count()
        due = fill_due_at(stack, queue_id, count)
        sleep_until_usec(due - 100_000)
        window = Window(stack.groups(), stack.redis_commands)
        sleep_until_usec(due + secs * 1_000_000)
        window.stop()
        stack.delete_queue(queue_id)
        arrivals = sorted(t for t, _, _ in stack.arrivals(queue_id, since))
        inside = [t for t in arrivals if due <= t < due + secs * 1_000_000]
        early = [t for t in arrivals if t < due]
        steady = [t for t in inside if t >= due + 1_000_000]
        measured = (len(steady) - 1) / ((steady[-1] - steady[0]) / 1e6) if len(steady) > 2 else None
        error = None if measured is None else 100 * (measured / rate - 1)
        allowance = burst + rate * secs
        busiest = busiest_second(steady)
        rows.append((rate, burst, len(inside), allowance, measured, error, busiest, len(early), window))
        print(f"  {rate:g}/s: {cpu_line(window)}")
        print(f"  {rate:g}/s: {guard.mark(f'rates {rate:g}/s', window)}", flush=True)
    print(f"\n  {'rate/s':>7} {'burst':>6} {'in window':>10} {'allowance':>10} {'steady/s':>9} {'error %':>8} "
          f"{'max in 1 s':>11} {'early':>6} {'disp CPU %':>10} {'redis CPU %':>11}")
    for rate, burst, inside, allowance, measured, error, busiest, early, window in rows:
        print(f"  {rate:7g} {burst:6d} {inside:10d} {allowance:10.0f} {fmt(measured, '9.2f'):>9} {fmt(error, '+.1f'):>8} "
              f"{busiest:11d} {early:6d} {window.percent('dispatchers'):10.1f} {window.percent('redis'):11.1f}")
    ok = all(e is not None and abs(e) <= GOALS["rate_error"] and i <= a + 1 for _, _, i, a, _, e, _, _, _ in rows)
    print(f"  -> {verdict(ok)} (steady rate within {GOALS['rate_error']}% and never above the allowance)", flush=True)


class DeepQueue:
    """One queue filled with tasks due tomorrow, topped up as the depth scenario goes deeper."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.queue_id = unique("deep")
        stack.create_queue(self.queue_id)
        self.depth = 0

    def fill_to(self, depth: int) -> None:
        if depth > self.depth:
            took = self.stack.fill(self.queue_id, depth - self.depth, now_usec() + DAY_USEC)
            print(f"  filled to {depth} tasks due tomorrow ({depth - self.depth} in {took:.1f} s)", flush=True)
            self.depth = depth


def depth(stack: Stack, args, guard: ReadmeGuard, deep: DeepQueue) -> None:
    calls = args.depth_calls
    print(f"\n== depth: CPU per create ({calls} REST creates, one client, due tomorrow) and per dispatch "
          f"({calls} pre-filled tasks due at T) with the queue holding more and more tasks due tomorrow", flush=True)
    rows = []
    for level in [int(d) for d in args.depths.split(",")]:
        deep.fill_to(level)
        time.sleep(1)  # let the dispatchers see the queue settle
        window = Window(stack.groups(), stack.redis_commands)
        create_ms = []
        tomorrow = now_usec() + DAY_USEC
        for _ in range(calls):
            sent, answered, _ = stack.create_task(deep.queue_id, schedule_usec=tomorrow)
            create_ms.append((answered - sent) / 1000)
        window.stop()
        deep.depth += calls
        create = (window.cpu("service") / calls * 1e6, window.cpu("redis") / calls * 1e6, median(create_ms))
        create_load = guard.mark(f"depth {level} create", window)
        since = stack.receiver.count()
        due = fill_due_at(stack, deep.queue_id, calls, margin_secs=1.0)
        sleep_until_usec(due - 50_000)
        window = Window(stack.groups(), stack.redis_commands)
        got = stack.receiver.wait_for(since + calls, timeout=calls / 100 + 30) - since
        window.stop()
        arrivals = sorted(t for t, _, _ in stack.arrivals(deep.queue_id, since))
        span = (arrivals[-1] - due) / 1e6 if arrivals else None
        dispatch = (window.cpu("service") / max(1, got) * 1e6, window.cpu("redis") / max(1, got) * 1e6,
                    got / span if span else None)
        rows.append((level, create, dispatch, got, window))
        print(f"  depth {level}: create {create[0]:.0f} + {create[1]:.0f} µs (service + redis); {create_load}\n"
              f"  depth {level}: dispatch {dispatch[0]:.0f} + {dispatch[1]:.0f} µs (service + redis); "
              f"{guard.mark(f'depth {level} dispatch', window)}", flush=True)
    first = rows[0]
    print(f"\n  {'tasks':>9} {'create svc µs':>13} {'redis µs':>9} {'p50 ms':>7} {'x first':>8} "
          f"{'dispatch svc µs':>16} {'redis µs':>9} {'sent/s':>7} {'x first':>8} {'sent':>6}")
    for level, create, dispatch, got, _ in rows:
        c_ratio = (create[0] + create[1]) / max(1e-9, first[1][0] + first[1][1])
        d_ratio = (dispatch[0] + dispatch[1]) / max(1e-9, first[2][0] + first[2][1])
        print(f"  {level:9d} {create[0]:13.0f} {create[1]:9.0f} {create[2]:7.2f} {c_ratio:8.2f} "
              f"{dispatch[0]:16.0f} {dispatch[1]:9.0f} {fmt(dispatch[2], '7.0f'):>7} {d_ratio:8.2f} {got:6d}")
    print("  (x first: service + redis CPU against the shallowest queue; flat means close to 1.00)", flush=True)


def idle(stack: Stack, args, guard: ReadmeGuard, deep: DeepQueue) -> None:
    secs = args.idle_secs
    print(f"\n== idle: {args.idle_depth} tasks due tomorrow, nothing due; CPU over {secs} s", flush=True)
    deep.fill_to(args.idle_depth)
    time.sleep(1)
    pids = stack.dispatcher_pids()
    groups = {**stack.groups(), **{f"pid {p}": (lambda p=p: [p]) for p in pids}}
    window = Window(groups, stack.redis_commands)
    time.sleep(secs)
    window.stop()
    each = ", ".join(f"{window.percent(f'pid {p}'):.2f}" for p in pids)
    dispatchers, redis_cpu = window.percent("dispatchers"), window.percent("redis")
    print(f"  CPU % of a core: dispatcher processes {dispatchers:.2f} in all ({each} each), gunicorn master "
          f"{window.percent('service') - dispatchers:.2f}, redis-server {redis_cpu:.2f}")
    calls = ", ".join(f"{name} {n / window.seconds:.1f}" for name, n in window.counted().items())
    print(f"  Redis commands/s: {calls}")
    print(f"  -> dispatchers: {verdict(dispatchers < GOALS['idle_cpu'])}; dispatchers + redis: "
          f"{verdict(dispatchers + redis_cpu < GOALS['idle_cpu'])} (< {GOALS['idle_cpu']}% of a core)")
    print(f"  {guard.mark('idle', window)}", flush=True)


class Profile:
    """py-spy (--py-spy PATH) recording each dispatcher process while a scenario runs, non-blocking
    (the processes are not paused), as collapsed stacks in --profile-dir; the busiest frames printed."""

    def __init__(self, py_spy: str | None, folder: str):
        self.py_spy, self.folder, self.procs = py_spy, Path(folder), []

    def start(self, stack: Stack, name: str) -> None:
        if not self.py_spy:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for pid in stack.dispatcher_pids():
            out = self.folder / f"{name}-{pid}.txt"
            proc = subprocess.Popen([self.py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                                     "--nonblocking", "--output", str(out)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append((proc, out))

    def stop(self) -> None:
        for proc, out in self.procs:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
            self.summarise(out)
        self.procs = []

    @staticmethod
    def summarise(path: Path, top: int = 8) -> None:
        if not path.exists():
            print(f"  profile {path}: not written")
            return
        own, inclusive, total = {}, {}, 0
        for line in path.read_text().splitlines():
            stack_text, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames, n = stack_text.split(";"), int(count)
            total += n
            own[frames[-1]] = own.get(frames[-1], 0) + n
            for frame in set(f for f in frames if "queueservice" in f):
                inclusive[frame] = inclusive.get(frame, 0) + n
        print(f"  profile {path} ({total} samples); most samples in (own):")
        for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {100 * n / max(1, total):5.1f}%  {frame}")
        print("  in queueservice functions (inclusive):")
        for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {100 * n / max(1, total):5.1f}%  {frame}")


def paused(stack: Stack, args, guard: ReadmeGuard) -> None:
    secs = args.paused_secs
    queue_id = unique("paused")
    stack.create_queue(queue_id)
    stack.pause_queue(queue_id)
    print(f"\n== paused: a paused queue holding 10 tasks due now (as a test suite leaves one); CPU over {secs} s",
          flush=True)
    stack.fill(queue_id, 10)
    time.sleep(1)
    window = Window(stack.groups(), stack.redis_commands)
    time.sleep(secs)
    window.stop()
    stack.delete_queue(queue_id)
    dispatchers, redis_cpu = window.percent("dispatchers"), window.percent("redis")
    print(f"  {cpu_line(window)}")
    print(f"  -> dispatchers + redis {dispatchers + redis_cpu:.1f}% of a core: "
          f"{verdict(dispatchers + redis_cpu < GOALS['idle_cpu'])} of an idle service (< {GOALS['idle_cpu']}%)")
    print(f"  {guard.mark('paused', window)}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short durations and depths up to 100 thousand")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"any of {','.join(SCENARIOS)}")
    parser.add_argument("--throughput-secs", type=int)
    parser.add_argument("--latency-secs", type=int)
    parser.add_argument("--scheduled-secs", type=int)
    parser.add_argument("--rate-secs", type=int)
    parser.add_argument("--rates", default="5,50,500")
    parser.add_argument("--idle-secs", type=int)
    parser.add_argument("--idle-depth", type=int)
    parser.add_argument("--paused-secs", type=int)
    parser.add_argument("--depths", help="queue depths for the depth scenario, e.g. 1000,10000,100000,1000000")
    parser.add_argument("--depth-calls", type=int, help="creates and dispatches timed at each depth")
    parser.add_argument("--web-workers", type=int, default=1, help="gunicorn workers, each a dispatcher")
    parser.add_argument("--apart-workers", type=int, default=1, help="`python -m queueservice worker` processes")
    parser.add_argument("--dispatch-apart", action="store_true",
                        help="BACKGROUND_WORK=apart: gunicorn does not dispatch, only the apart workers do")
    parser.add_argument("--py-spy", metavar="PATH", help="py-spy binary: profile the dispatchers in each scenario")
    parser.add_argument("--profile-dir", default="push-profiles", help="where --py-spy writes (collapsed stacks)")
    parser.add_argument("--for-readme", action="store_true",
                        help="refuse to start with load average > 0.5; mark figures taken on a loaded machine")
    parser.add_argument("--wait-for-idle", type=float, default=0.0,
                        help="with --for-readme, wait up to this many seconds for the load to drop first")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    guard = ReadmeGuard(args.for_readme, args.wait_for_idle)
    guard.check_start()
    started = time.monotonic()
    env = {"BACKGROUND_WORK": "apart"} if args.dispatch_apart else {}
    stack = Stack(args.web_workers, args.apart_workers, env).start()
    profile = Profile(args.py_spy, args.profile_dir)
    try:
        print(stack.describe())
        capacity = stack.receiver.capacity(seconds=1 if args.quick else 2)
        print(f"receiver capacity (wrk -t2 -c16, {1 if args.quick else 2} s): {fmt(capacity, '.0f', 'not measured: no wrk')} requests/s",
              flush=True)
        deep = None
        for name in SCENARIOS:
            if name not in chosen:
                continue
            profile.start(stack, name)
            if name in ("depth", "idle"):
                deep = deep or DeepQueue(stack)
                globals()[name](stack, args, guard, deep)
            else:
                globals()[name](stack, args, guard)
            profile.stop()
        warnings = [line for line in stack.logs().splitlines() if "WARNING" in line or "ERROR" in line]
        if warnings:
            kinds = {}
            for line in warnings:
                key = line.split(" ", 3)[-1][:90]
                kinds[key] = kinds.get(key, 0) + 1
            print("\nservice log warnings (count, first 90 characters):")
            for key, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {n:6d}  {key}")
    finally:
        stack.stop()
    print(f"\nran {time.monotonic() - started:.0f} s")
    sys.exit(guard.finish())


if __name__ == "__main__":
    main()
