"""The registry of long-lived services: one instance per name, started and stopped with the
serving process, reported by /healthz, and the home of background work."""

from __future__ import annotations

import fakeredis

from queueservice.config import Settings
from queueservice.engine.app import create_app
from queueservice.services import Services


class Recorder:
    def __init__(self, log, name, healthy=True):
        self.log, self.name, self.healthy = log, name, healthy

    def start(self):
        self.log.append(f"start {self.name}")

    def stop(self):
        self.log.append(f"stop {self.name}")

    def health(self):
        if not self.healthy:
            raise RuntimeError("down")
        return {"status": "ok"}


def test_a_service_is_built_once_and_shared():
    services, built = Services(Settings(), None), []

    def build(context):
        built.append(context)
        return object()

    assert services.get("x", build) is services.get("x", build)
    assert built == [services]


def test_services_start_in_order_stop_in_reverse_and_late_ones_start_at_once():
    services, log = Services(Settings(), None), []
    services.get("a", lambda _: Recorder(log, "a"))
    services.get("b", lambda _: Recorder(log, "b"))
    services.start()
    services.get("c", lambda _: Recorder(log, "c"))
    services.stop()
    assert log == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]


def test_one_failing_health_check_is_reported_beside_the_others():
    services = Services(Settings(), None)
    services.get("good", lambda _: Recorder([], "good"))
    services.get("bad", lambda _: Recorder([], "bad", healthy=False))
    assert services.health() == {"good": {"status": "ok", "running": False},
                                 "bad": {"status": "unavailable", "problem": "down", "running": False}}


def test_both_apis_share_one_pull_queue_service():
    app = create_app(Settings(redis_url="redis://unused", log_level="WARNING"), redis_client=fakeredis.FakeRedis())
    engine = app.extensions["queueservice"]
    taskqueue, cloudtasks, admin = engine.apis
    assert sorted(engine.services.names()) == ["clock", "pullqueue", "pushqueue"]
    assert taskqueue.backend is engine.services.get("pullqueue", None)
    assert cloudtasks.backend is engine.services.get("pushqueue", None)
    assert [k.api for k in admin.backend.kinds()] == ["taskqueue", "cloudtasks"]
    health = app.test_client().get("/healthz").get_json()
    assert health["services"] == {"clock": {"status": "ok", "running": False},
                                  "pullqueue": {"status": "ok", "queues": 0, "running": False},
                                  "pushqueue": {"status": "ok", "running": False}}


def test_the_worker_command_runs_the_services_apart_and_stops_on_sigterm(redis_server):
    import os
    import signal
    import subprocess
    import sys

    from harness.servers import REPO

    env = {**os.environ, "REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "queueservice", "worker"], cwd=REPO, env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "running background services (clock, pullqueue, pushqueue)" in line
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()


def test_the_worker_command_needs_a_redis(tmp_path):
    import os
    import subprocess
    import sys

    from harness.servers import REPO

    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    run = subprocess.run([sys.executable, "-m", "queueservice", "worker"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "needs REDIS_URL" in run.stderr


def test_background_work_runs_in_the_web_workers_unless_it_is_run_apart(gunicorn_server, redis_server):
    import requests

    from harness.servers import gunicorn_on

    served = requests.get(gunicorn_server.url + "/healthz", timeout=10).json()["services"]
    assert served["pullqueue"]["running"] is True
    apart = gunicorn_on(redis_server, 9, BACKGROUND_WORK="apart", WEB_CONCURRENCY="1")
    try:
        assert requests.get(apart.url + "/healthz", timeout=10).json()["services"]["pullqueue"]["running"] is False
    finally:
        apart.stop()
