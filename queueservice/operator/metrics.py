"""Tasks by state per queue and API, read from the stores when Prometheus scrapes (so all workers agree)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily


class QueueCollector:
    """Per-queue series of the queues that hold tasks or were active lately, of every kind; the
    others (empty, idle) are left out, so a scrape stays fast with thousands of emptied queues."""

    def __init__(self, ops):
        self._ops = ops

    def describe(self):
        return []

    def collect(self):
        labels = ["api", "project", "queue"]
        tasks = GaugeMetricFamily("queueservice_tasks", "Tasks by state", labels=labels + ["state"])
        leased = GaugeMetricFamily("queueservice_tasks_leased_last_minute", "Tasks leased in the last minute",
                                   labels=labels)
        oldest = GaugeMetricFamily("queueservice_oldest_task_age_seconds", "Age of the oldest live task",
                                   labels=labels)
        now = self._ops.now_usec()
        for kind in self._ops.kinds():
            kind.nudge()
            refs = kind.queues()
            for summary in kind.summaries(refs, skip_idle=True):
                if summary is None:
                    continue
                values = [summary["api"], summary["project"], summary["queue"]]
                for state in kind.states[1:]:
                    tasks.add_metric(values + [state], summary[state])
                if "leasedLastMinute" in summary:
                    leased.add_metric(values, summary["leasedLastMinute"])
                if summary.get("oldestTask"):
                    oldest.add_metric(values, max(0.0, (now - summary["oldestTask"]) / 1e6))
        yield tasks
        yield leased
        yield oldest
