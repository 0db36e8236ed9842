"""Tasks by state per queue, read from Redis when Prometheus scrapes (so all workers agree)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily


class QueueCollector:
    def __init__(self, store):
        self._store = store

    def describe(self):
        return []

    def collect(self):
        tasks = GaugeMetricFamily("queueservice_tasks", "Tasks by state", labels=["project", "queue", "state"])
        leased = GaugeMetricFamily("queueservice_tasks_leased_last_minute", "Tasks leased in the last minute",
                                   labels=["project", "queue"])
        oldest = GaugeMetricFamily("queueservice_oldest_task_age_seconds", "Age of the oldest live task",
                                   labels=["project", "queue"])
        now = self._store.now_usec()
        for keys in self._store.queues():
            stats = self._store.stats(keys)
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
