"""Prometheus metrics: API calls by method and status, their latency, and what each API adds.

Under gunicorn with several workers the counters live in PROMETHEUS_MULTIPROC_DIR (set by
gunicorn_settings before the workers start) and are summed across workers at scrape time.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

API_CALLS = Counter("queueservice_api_requests", "API calls by method id and HTTP status",
                    ["method", "status"])
API_SECONDS = Histogram("queueservice_api_request_seconds", "API call latency by method id "
                        "(taskqueue.tasks.lease is the lease latency)", ["method"],
                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))


#: (method id, status) -> (its counter, its histogram): `labels()` formats, locks and looks up on
#: every call, so each pair is looked up once per process.
_CHILDREN = {}


def observe(method_id: str, status: int, seconds: float) -> None:
    children = _CHILDREN.get((method_id, status))
    if children is None:
        children = _CHILDREN[(method_id, status)] = (API_CALLS.labels(method_id, str(status)),
                                                      API_SECONDS.labels(method_id))
    children[0].inc()
    children[1].observe(seconds)


def render(collectors) -> bytes:
    """The exposition text: process-wide (or all workers') API metrics, then each API's collectors."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if collectors:
        extra = CollectorRegistry()
        for collector in collectors:
            extra.register(collector)
        text += generate_latest(extra)
    return text
