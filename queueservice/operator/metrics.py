"""Queue metrics per queue and API, read from the stores when Prometheus scrapes (so all workers
and instances agree): tasks by state, and for push queues their dispatches (by answer class),
retries, outcomes and attempt latency, which the store counts in Redis as it records each attempt."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily


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
        dispatches = CounterMetricFamily("queueservice_dispatches", "Push attempts by answer class (none: no answer)",
                                         labels=labels + ["response_class"])
        retries = CounterMetricFamily("queueservice_dispatch_retries", "Push attempts followed by a retry",
                                      labels=labels)
        finished = CounterMetricFamily("queueservice_tasks_finished", "Push tasks that succeeded or were dropped",
                                       labels=labels + ["outcome"])
        latency = HistogramMetricFamily("queueservice_dispatch_latency_seconds", "How long push attempts took",
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
                if "dispatches" in summary:
                    for answer, count in summary["dispatches"].items():
                        dispatches.add_metric(values + [answer], count)
                    retries.add_metric(values, summary["retries"])
                    for outcome in ("succeeded", "dropped"):
                        finished.add_metric(values + [outcome], summary[outcome])
                    histogram = summary["latency"]
                    bounds = [str(b) for b in histogram["bounds"]] + ["+Inf"]
                    cumulative, buckets = 0, []
                    for bound, count in zip(bounds, histogram["buckets"]):
                        cumulative += count
                        buckets.append((bound, cumulative))
                    latency.add_metric(values, buckets, histogram["sumSeconds"])
        yield from (tasks, leased, oldest, dispatches, retries, finished, latency)
