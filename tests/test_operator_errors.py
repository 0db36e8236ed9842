"""Operator mistakes: one clear line and a non-zero exit, no traceback, nothing served first.

Each case runs the real command (gunicorn as the image runs it, or `python -m queueservice`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
import requests

from queueservice.config import Settings
from queueservice.gunicorn_settings import options

from harness.servers import REPO, GunicornServer, RedisServer, free_port, without_embedded_server

GUNICORN = [str(__import__("pathlib").Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py",
            "queueservice.wsgi:app"]
MODULE = [sys.executable, "-m", "queueservice"]
OURS = ("HOST", "PORT", "REDIS_URL", "REDIS_CLUSTER", "QUEUE_CONFIG", "WEB_CONCURRENCY", "THREADS",
        "PROMETHEUS_MULTIPROC_DIR", "ALLOWED_HOSTS")


def refused(command, env, timeout=30) -> str:
    """Run a start that must fail; return its one-line reason after checking the rules."""
    base = {k: v for k, v in os.environ.items() if k not in OURS}
    proc = subprocess.run(command, cwd=REPO, env={**base, "PORT": str(free_port()), "LOG_LEVEL": "WARNING", **env},
                          capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    assert "serving on" not in output and "Listening at" not in output, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("queueservice: "), output
    return last


@pytest.fixture(scope="module")
def plain_redis():
    server = RedisServer().start()
    yield server
    server.stop()


QUEUE_FILES = {
    "missing file": (None, "cannot be read"),
    "bad yaml": ("queue:\n- name: a\n  mode: [pull\n", "not valid YAML at line"),
    "misspelled top-level key": ("queues:\n- name: a\n  mode: pull\n", "did you mean 'queue'"),
    "mode pul": ("queue:\n- name: a\n  mode: pul\n", "write `mode: pull`"),
    "duplicate names": ("queue:\n- name: a\n  mode: pull\n- name: a\n  mode: pull\n", "defined twice"),
    "empty file": ("", "the file is empty"),
    "misspelled queue key": ("queue:\n- name: a\n  mod: pull\n", "did you mean 'mode'"),
    "not utf-8": (b"queue:\n- name: caf\xe9\n  mode: pull\n", "not UTF-8 text"),
    "too large": ("# " + "x" * (1024 * 1024) + "\n", "over 1024 KiB"),
}


@pytest.mark.parametrize("case", sorted(QUEUE_FILES))
def test_bad_queue_config_is_one_line(tmp_path, case):
    text, fix = QUEUE_FILES[case]
    path = tmp_path / "queue.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    command = GUNICORN if case in ("mode pul", "empty file") else MODULE
    line = refused(command, {"QUEUE_CONFIG": str(path)})
    assert str(path) in line and fix in line


@pytest.mark.parametrize("command", [GUNICORN, MODULE], ids=["gunicorn", "module"])
@pytest.mark.parametrize("env,reason", [
    ({"PORT": "70000"}, "PORT must be between 1 and 65535"),
    ({"REDIS_URL": "http://localhost:6379"}, "unsupported scheme"),
    ({"HOST": "no-such-host.invalid"}, "HOST 'no-such-host.invalid'"),
    ({"THREADS": "0"}, "THREADS must be at least 1"),
], ids=["port", "scheme", "host", "threads"])
def test_bad_setting_is_one_line(command, env, reason):
    assert reason in refused(command, env)


@pytest.mark.parametrize("env,reason", [
    ({"REDIS_TIMEOUT_SECS": "-1"}, "REDIS_TIMEOUT_SECS must be a number of seconds above 0"),
    ({"REDIS_TIMEOUT_SECS": "0"}, "REDIS_TIMEOUT_SECS must be a number of seconds above 0"),
    ({"MAX_REQUEST_BYTES": "-5"}, "MAX_REQUEST_BYTES must be at least 1"),
    ({"REDIS_CLUSTER": "maybe"}, "REDIS_CLUSTER must be true or false"),
    ({"DEFAULT_MAX_LEASES": "-1"}, "DEFAULT_MAX_LEASES must be 0 or more"),
    ({"HISTORY_MAX_EVENTS": "-1"}, "HISTORY_MAX_EVENTS must be 0 or more"),
    ({"BACKGROUND_WORK": "later"}, "BACKGROUND_WORK must be 'serve', 'apart' or unset"),
])
def test_every_setting_is_checked(env, reason):
    with pytest.raises(SystemExit) as info:
        Settings.from_env(env)
    assert reason in str(info.value)


def test_a_bad_number_setting_is_one_line_at_start():
    assert "REDIS_TIMEOUT_SECS must be" in refused(MODULE, {"REDIS_TIMEOUT_SECS": "-1"})


def test_a_missing_metrics_folder_of_the_users_is_one_line(tmp_path):
    line = refused(GUNICORN, {"REDIS_URL": "redis://127.0.0.1:1/0", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "nope")})
    assert "PROMETHEUS_MULTIPROC_DIR" in line and "is not a folder" in line


def test_wrong_redis_credentials_are_one_line(plain_redis):
    import redis as redis_py

    redis_py.Redis(port=plain_redis.port).config_set("requirepass", "right")
    try:
        url = plain_redis.url.replace("redis://", "redis://:wrong@")
        assert "refused the credentials of REDIS_URL" in refused(MODULE, {"REDIS_URL": url})
    finally:
        redis_py.Redis(port=plain_redis.port, password="right").config_set("requirepass", "")


def test_bad_worker_count_is_one_line():
    assert "WEB_CONCURRENCY must be a whole number" in refused(MODULE, {"WEB_CONCURRENCY": "abc"})


def test_cluster_setting_against_a_plain_redis(plain_redis):
    line = refused(GUNICORN, {"REDIS_URL": plain_redis.url, "REDIS_CLUSTER": "true"})
    assert "not a cluster node" in line and "unset REDIS_CLUSTER" in line


@pytest.mark.parametrize("command", [GUNICORN, MODULE], ids=["gunicorn", "module"])
def test_port_in_use(command):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        line = refused(command, {"PORT": str(holder.getsockname()[1])})
    assert "the port is in use" in line


def test_several_workers_with_the_in_memory_fallback_are_refused(tmp_path):
    line = refused(GUNICORN[:1] + ["-w", "3"] + GUNICORN[1:], without_embedded_server(tmp_path))
    assert "3 workers need a shared store" in line and "REDIS_URL" in line


def test_ipv6_any_host_is_bound_in_brackets():
    settings = Settings.from_env({"HOST": "::", "PORT": "8081"})
    assert options(settings)["bind"] == "[::]:8081"
    assert Settings.from_env({"HOST": "[::1]"}).bind == "[::1]:8080"


def test_module_says_where_it_serves_once_bound():
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k not in OURS}
    proc = subprocess.Popen(MODULE, cwd=REPO, env={**base, "HOST": "::", "PORT": str(port), "LOG_LEVEL": "WARNING"},
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        while line and "serving on" not in line:
            line = proc.stderr.readline()
        assert f"serving on http://[::]:{port}" in line
        assert requests.get(f"http://[::1]:{port}/healthz", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_user_metrics_folder_is_kept_at_exit(tmp_path, plain_redis):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "mine.txt").write_text("the user's own file")
    web = GunicornServer({"REDIS_URL": plain_redis.url, "PROMETHEUS_MULTIPROC_DIR": str(folder),
                          "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING"}).start()
    requests.get(web.url + "/taskqueue/v1beta2/projects/p/taskqueues/q/tasks", timeout=10)
    web.stop()
    assert (folder / "mine.txt").read_text() == "the user's own file"
    assert web.proc.returncode == 0


def test_service_made_metrics_folder_is_removed_at_exit(plain_redis):
    from queueservice import gunicorn_settings

    class Server:
        class cfg:
            workers = 1
            address = [("127.0.0.1", free_port())]

    env = {"REDIS_URL": plain_redis.url}
    saved = {k: os.environ.get(k) for k in ("PROMETHEUS_MULTIPROC_DIR", "REDIS_URL")}
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update(env)
    try:
        gunicorn_settings._on_starting(Server)
        made = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        assert os.path.isdir(made)
        gunicorn_settings._on_exit(Server)
        assert not os.path.exists(made)
    finally:
        gunicorn_settings._created_metrics_dir = None
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_setting_no_longer_read_is_named_in_a_warning(redis_server):
    server = GunicornServer({"REDIS_URL": redis_server.url, "API_DATA_DIR": "/somewhere", "WEB_CONCURRENCY": "1"})
    try:
        server.start()
    finally:
        server.stop()
    assert "API_DATA_DIR is no longer read" in server.output()
