"""gunicorn settings from the service's config; `gunicorn.conf.py` and `python -m queueservice` share them."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from queueservice import startup
from queueservice.config import Settings
from queueservice.redis_helpers import embedded


def _child_exit(server, worker):
    """A dead worker's metric files are merged into the totals, not counted as live."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


#: The metrics folder this master made (None when the user set PROMETHEUS_MULTIPROC_DIR): only
#: this one is removed at exit, never a folder, or files, of the user's.
_created_metrics_dir = None


def _on_exit(server):
    embedded.stop_for_service()
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)


def _on_starting(server) -> None:
    """In the master, before any worker or socket: the metrics folder, then every start-up check.

    The folder comes first: prometheus_client picks per-process files or in-memory values when
    it is imported, and the checks import it (the workers, forked from here, keep that choice).
    """
    global _created_metrics_dir
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given and not os.path.isdir(given):
        raise SystemExit(f"queueservice: PROMETHEUS_MULTIPROC_DIR {given} is not a folder; make it, or "
                         "unset PROMETHEUS_MULTIPROC_DIR and the service makes its own")
    if given and any(name.endswith(".db") for name in os.listdir(given)):
        logging.getLogger("queueservice").warning(
            "PROMETHEUS_MULTIPROC_DIR %s holds metric files of an earlier run: their counts are added in; "
            "empty it between runs", given)
    if not given:  # workers share API metrics through files here
        _created_metrics_dir = tempfile.mkdtemp(prefix="queueservice-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_dir
    if os.environ.get("API_DATA_DIR"):
        logging.getLogger("queueservice").warning(
            "API_DATA_DIR is no longer read: the APIs served are listed in queueservice/config.py (SERVED_APIS)")
    try:
        settings = Settings.from_env()
        startup.check_workers(settings, server.cfg.workers)
        startup.start_embedded(settings)  # its URL reaches the checks below and the workers
        settings = Settings.from_env()
        startup.check_app(settings)
        startup.check_bind(server.cfg.address)
    except BaseException:
        _on_exit(server)
        raise


def _services(worker):
    app = getattr(worker, "wsgi", None)
    engine = getattr(app, "extensions", {}).get("queueservice")
    return engine.services if engine is not None else None


def _post_worker_init(worker) -> None:
    """The worker's app is loaded: start its background services (their home by default; with
    BACKGROUND_WORK=apart they run in `python -m queueservice worker` instead)."""
    services = _services(worker)
    if services is not None and services.settings.background_work != "apart":
        services.start()


def _worker_exit(server, worker) -> None:
    services = _services(worker)
    if services is not None:
        services.stop()


def options(settings: Settings | None = None) -> dict:
    """gunicorn options: bind HOST:PORT; one worker only when the in-process fallback store is used."""
    settings = settings or Settings.from_env()
    workers = max(1, settings.web_concurrency)
    if settings.embedded and workers > 1 and not embedded.can_run():
        logging.getLogger("queueservice").warning(
            "REDIS_URL is unset and no embedded store server can run here: running 1 worker, "
            "since the in-memory fallback store lives in one process")
        workers = 1
    return {
        "bind": settings.bind,
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
        "post_worker_init": _post_worker_init,
        # gunicorn 27's control socket has one default path per user: two services would share it.
        "control_socket_disable": True,
        "worker_exit": _worker_exit,
    }
