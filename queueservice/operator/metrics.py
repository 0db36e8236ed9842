"""Tasks by state per queue, read from Redis when Prometheus scrapes (so all workers agree)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily


class QueueCollector:
    """Per-queue series of the queues that hold tasks or leased in the last hour; the others
    (empty, idle) are left out, so a scrape stays fast with thousands of used-and-emptied queues."""

    def __init__(self, store, forgetter=None):
        self._store = store
        self._forgetter = forgetter

    def describe(self):
        return []

    def collect(self):
        tasks = GaugeMetricFamily("queueservice_tasks", "Tasks by state", labels=["project", "queue", "state"])
        leased = GaugeMetricFamily("queueservice_tasks_leased_last_minute", "Tasks leased in the last minute",
                                   labels=["project", "queue"])
        oldest = GaugeMetricFamily("queueservice_oldest_task_age_seconds", "Age of the oldest live task",
                                   labels=["project", "queue"])
        if self._forgetter:
            self._forgetter.nudge()
        now = self._store.now_usec()
        queues = self._store.queues()
        for keys, stats in zip(queues, self._store.summaries(queues, skip_idle=True)):
            if stats is None:
                continue
            labels = [keys.project, keys.queue]
            for state, value in (("available", stats.available), ("leased", stats.leased),
                                 ("delayed", stats.delayed), ("dead", stats.dead_lettered)):
                tasks.add_metric(labels + [state], value)
            leased.add_metric(labels, stats.leased_last_minute)
            if stats.oldest_task_usec:
                oldest.add_metric(labels, max(0.0, (now - stats.oldest_task_usec) / 1e6))
        yield tasks
        yield leased
        yield oldest
