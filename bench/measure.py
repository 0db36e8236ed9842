"""What the push benchmarks measure besides time: CPU of process trees, the machine's load, percentiles.

The load a benchmark reads after it ran includes its own processes, so besides the load average
(printed before and after, as every benchmark here does) `Machine` measures what the rest of the
machine used meanwhile: CPU time of every process on it, less that of our own process tree.
That (per scenario), and the load average before a run starts, decide whether figures may go
into the README.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Highest load (runnable processes, and cores used by others during a run) for README figures.
README_LOAD = 0.5


def _stat(pid: int):
    """(ppid, utime + stime, cutime + cstime) in ticks, or None once the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def children(pid: int) -> list:
    """Every live descendant of `pid`."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat:
                parents.setdefault(stat[0], []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pids) -> float:
    """CPU seconds (user + system) these processes used so far, each on its own."""
    total = 0
    for pid in pids:
        stat = _stat(pid)
        if stat:
            total += stat[1]
    return total / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and all its descendants, including those already reaped by a parent
    in the tree (their time is in the parent's cutime)."""
    total = 0
    for p in [pid] + children(pid):
        stat = _stat(p)
        if stat:
            total += stat[1] + stat[2]
    return total / CLOCK_TICKS


def _machine_busy_seconds() -> tuple:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / CLOCK_TICKS, steal / CLOCK_TICKS


def loadavg() -> float:
    return os.getloadavg()[0]


class Window:
    """CPU used during a stretch of time: by given process groups, by our own tree, by the rest."""

    def __init__(self, groups: dict, counters=None):
        """`groups`: {label: callable returning the pids to count now} (read at start and end);
        `counters`: a callable returning {name: count so far} (e.g. Redis commands), or None."""
        self._groups = groups
        self._counters = counters or dict
        self.start()

    def _read(self):
        busy, steal = _machine_busy_seconds()
        pids = {label: list(get()) for label, get in self._groups.items()}
        each = {pid: cpu_seconds([pid]) for group in pids.values() for pid in group}  # one read a process
        return {"wall": time.monotonic(), "busy": busy, "steal": steal, "ours": tree_cpu_seconds(os.getpid()),
                "load": loadavg(), "counters": self._counters(),
                **{label: sum(each[p] for p in group) for label, group in pids.items()}}

    def start(self) -> "Window":
        self._begin = self._read()
        self._end = None
        return self

    def stop(self) -> "Window":
        self._end = self._read()
        return self

    @property
    def seconds(self) -> float:
        return self._end["wall"] - self._begin["wall"]

    def cpu(self, label: str) -> float:
        """CPU seconds of one group during the window."""
        return self._end[label] - self._begin[label]

    def percent(self, label: str) -> float:
        """CPU of one group as a percentage of one core."""
        return 100 * self.cpu(label) / self.seconds

    def counted(self) -> dict:
        """{name: how many during the window}, largest first."""
        before, after = self._begin["counters"], self._end["counters"]
        deltas = {name: after[name] - before.get(name, 0) for name in after}
        return dict(sorted(((k, v) for k, v in deltas.items() if v), key=lambda kv: -kv[1]))

    @property
    def others_cores(self) -> float:
        """Cores the rest of the machine kept busy meanwhile (every process that is not ours)."""
        busy = self._end["busy"] - self._begin["busy"]
        return max(0.0, busy - (self._end["ours"] - self._begin["ours"])) / self.seconds

    @property
    def steal_cores(self) -> float:
        return (self._end["steal"] - self._begin["steal"]) / self.seconds

    def load_line(self) -> str:
        return (f"load average {self._begin['load']:.2f} before, {self._end['load']:.2f} after; "
                f"other processes used {self.others_cores:.2f} cores meanwhile (steal {self.steal_cores:.2f})")

    def too_loaded(self) -> bool:
        """Other processes kept more than README_LOAD cores busy (or the hypervisor took them).
        The load average is no measure here: within a run it counts our own processes."""
        return self.others_cores + self.steal_cores > README_LOAD


def percentile(values, pct: float):
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(len(ordered) * pct / 100))) - 1]


def median(values):
    return statistics.median(values) if values else None


def fmt(value, spec: str = ".1f", none: str = "-") -> str:
    return none if value is None else format(value, spec)


class ReadmeGuard:
    """With --for-readme: refuse to start on a loaded machine, and mark loudly any figure taken
    while the machine was loaded (the run then ends with exit status 3)."""

    def __init__(self, for_readme: bool, wait_secs: float = 0.0):
        self.for_readme = for_readme
        self.wait_secs = wait_secs
        self.tainted = []

    def check_start(self) -> None:
        load = loadavg()
        print(f"load average before the run: {load:.2f} (1 min), cores: {os.cpu_count()}", flush=True)
        if not self.for_readme:
            return
        deadline = time.monotonic() + self.wait_secs
        while load > README_LOAD and time.monotonic() < deadline:
            time.sleep(5)
            load = loadavg()
        if load > README_LOAD:
            raise SystemExit(f"--for-readme: load average {load:.2f} is above {README_LOAD}: "
                             "figures taken now would not be the machine's; run again when it is idle")

    def mark(self, label: str, window: Window) -> str:
        """The load line of a scenario, marked when its figures are not fit for the README."""
        line = window.load_line()
        if window.too_loaded():
            self.tainted.append(label)
            if self.for_readme:
                return f"!!!!! NOT FOR THE README: loaded machine ({line}) !!!!!"
            return f"{line}  [loaded: draft figures]"
        return line

    def finish(self) -> int:
        print(f"load average after the run: {loadavg():.2f} (1 min)", flush=True)
        if self.tainted:
            shown = ", ".join(self.tainted[:5]) + (f" and {len(self.tainted) - 5} more" if len(self.tainted) > 5 else "")
            print(f"{len(self.tainted)} measurement(s) taken while other processes used more than {README_LOAD} "
                  f"cores: {shown}" + ("  -- NOT FOR THE README" if self.for_readme else ""), flush=True)
            return 3 if self.for_readme else 0
        return 0
