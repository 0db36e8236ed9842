"""gunicorn settings from the service's config; `gunicorn.conf.py` and `python -m queueservice` share them."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from .config import Settings


def _child_exit(server, worker):
    """A dead worker's metric files are merged into the totals, not counted as live."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _on_exit(server):
    shutil.rmtree(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), ignore_errors=True)


def _on_starting(server) -> None:
    """In the master, before any worker: workers share API metrics through files in this folder."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="queueservice-metrics-")


def options(settings: Settings | None = None) -> dict:
    """gunicorn options: bind HOST:PORT; one worker with the embedded store (it lives in-process)."""
    settings = settings or Settings.from_env()
    workers = max(1, settings.web_concurrency)
    if settings.embedded and workers > 1:
        logging.getLogger("queueservice").warning(
            "REDIS_URL is unset: running 1 worker, since the embedded store lives in one process")
        workers = 1
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": workers,
        "worker_class": "queueservice.gunicorn_worker.JsonErrorThreadWorker",
        "threads": max(1, settings.threads),
        "timeout": 30,
        "graceful_timeout": 20,
        "keepalive": 5,
        "loglevel": settings.log_level.lower(),
        "accesslog": None,
        "on_starting": _on_starting,
        "child_exit": _child_exit,
        "on_exit": _on_exit,
    }
