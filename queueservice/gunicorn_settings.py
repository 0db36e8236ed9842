"""gunicorn settings from the service's config; `gunicorn.conf.py` and `python -m queueservice` share them."""

from __future__ import annotations

import logging

from .config import Settings


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
    }
