"""Every setting of the service, read from the environment in one place (mirrored in the README)."""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass


#: The APIs this server serves, by module; each module's document is the `.api` file beside it.
SERVED_APIS = ("queueservice.apis.taskqueue_v1beta2", "queueservice.apis.cloudtasks_v2",
               "queueservice.apis.queueadmin_v1")


def _int(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"queueservice: {name} must be a whole number, not {raw!r}") from None


def _non_negative(env, name, default):
    value = _int(env, name, default)
    if value < 0:
        raise SystemExit(f"queueservice: {name} must be 0 or more, not {value}")
    return value


def _float(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"queueservice: {name} must be a number, not {raw!r}") from None


def _bool(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    word = raw.strip().lower()
    if word not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise SystemExit(f"queueservice: {name} must be true or false, not {raw!r}")
    return word in ("1", "true", "yes", "on")


def _url(env, name):
    raw = (env.get(name) or "").strip()
    if raw and not raw.startswith(("http://", "https://")):
        raise SystemExit(f"queueservice: {name} must be an http:// or https:// URL, not {raw!r}")
    return raw or None


def _positive_float(env, name, default):
    value = _float(env, name, default)
    if not value > 0 or value != value or value == float("inf"):
        raise SystemExit(f"queueservice: {name} must be a number of seconds above 0, not {env.get(name)!r}")
    return value


def _choice(env, name, choices):
    raw = (env.get(name) or "").strip().lower()
    if raw not in choices:
        shown = ", ".join(repr(c) for c in choices if c) + " or unset"
        raise SystemExit(f"queueservice: {name} must be {shown}, not {raw!r}")
    return raw


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _level(env):
    level = (env.get("LOG_LEVEL") or "INFO").upper()
    if level not in _LEVELS:
        raise SystemExit(f"queueservice: LOG_LEVEL must be one of {', '.join(_LEVELS)}, not {level!r}")
    return level


def _port(env):
    port = _int(env, "PORT", 8080)
    if not 1 <= port <= 65535:
        raise SystemExit(f"queueservice: PORT must be between 1 and 65535, not {port}")
    return port


def _positive(env, name, default):
    value = _int(env, name, default)
    if value < 1:
        raise SystemExit(f"queueservice: {name} must be at least 1, not {value}")
    return value


def _forget_secs(env):
    """QUEUE_FORGET_SECS: 0 never forgets; otherwise at least 300 s, well past a process's
    one-minute registration refresh, so a queue in use is never forgotten."""
    value = _int(env, "QUEUE_FORGET_SECS", 3600)
    if value and value < 300:
        raise SystemExit(f"queueservice: QUEUE_FORGET_SECS must be 0 (never) or at least 300, not {value}")
    return value


def _read_timeout(env):
    value = _float(env, "REQUEST_READ_TIMEOUT_SECS", 30.0)
    if value <= 0:
        raise SystemExit(f"queueservice: REQUEST_READ_TIMEOUT_SECS must be more than 0, not {value:g}")
    return value


def _host(env):
    """HOST as gunicorn binds it: an IPv6 address such as `::` is accepted with or without brackets."""
    host = (env.get("HOST") or "127.0.0.1").strip()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def parse_allowed(raw: str | None) -> frozenset:
    """ALLOWED_HOSTS: comma-separated names, each `name` (any port) or `name:port`; `*` allows any."""
    return frozenset(entry.strip().lower() for entry in (raw or "").split(",") if entry.strip())


@dataclass(frozen=True)
class Settings:
    """The service's settings; `from_env` is the only place the environment is read."""

    host: str = "127.0.0.1"
    port: int = 8080
    redis_url: str | None = None
    redis_cluster: bool = False
    redis_timeout_secs: float = 2.0
    served_apis: tuple = SERVED_APIS
    queue_config: str | None = None
    default_max_leases: int = 0
    history_max_events: int = 10_000
    queue_forget_secs: int = 3600
    max_request_bytes: int = 32 * 1024 * 1024
    max_batch_response_bytes: int = 32 * 1024 * 1024
    request_read_timeout_secs: float = 30.0
    log_level: str = "INFO"
    web_concurrency: int = 2
    threads: int = 8
    task_tombstone_secs: int = 3600
    taskqueue_compat: str = ""
    allowed_hosts: frozenset = frozenset()
    background_work: str = "serve"
    app_engine_url: str | None = None
    app_engine_service_urls: str | None = None
    queue_recreate_secs: int = 60
    finished_task_secs: int = 3600
    firebase_functions_url: str = "http://127.0.0.1:5001"
    oidc_issuer: str | None = None
    data_dir: Path = Path("queueservice-data")
    #: The embedded store's append-only file: "second" (written before every answer, fsynced
    #: once a second) or "always" (fsynced before every answer). See embedded.py.
    data_fsync: str = "second"
    #: Set by the service itself: where its embedded store server listens (see embedded.py).
    embedded_url: str | None = None

    @property
    def embedded(self) -> bool:
        """True when REDIS_URL is unset: the embedded store (a server the service runs, or fakeredis)."""
        return not self.redis_url

    @property
    def bind(self) -> str:
        """HOST:PORT for gunicorn, with an IPv6 host in brackets."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            host=_host(env),
            port=_port(env),
            redis_url=env.get("REDIS_URL") or None,
            redis_cluster=_bool(env, "REDIS_CLUSTER", False),
            redis_timeout_secs=_positive_float(env, "REDIS_TIMEOUT_SECS", 2.0),
            queue_config=env.get("QUEUE_CONFIG") or None,
            default_max_leases=_non_negative(env, "DEFAULT_MAX_LEASES", 0),
            history_max_events=_non_negative(env, "HISTORY_MAX_EVENTS", 10_000),
            queue_forget_secs=_forget_secs(env),
            max_request_bytes=_positive(env, "MAX_REQUEST_BYTES", 32 * 1024 * 1024),
            max_batch_response_bytes=_positive(env, "MAX_BATCH_RESPONSE_BYTES", 32 * 1024 * 1024),
            request_read_timeout_secs=_read_timeout(env),
            log_level=_level(env),
            web_concurrency=_positive(env, "WEB_CONCURRENCY", 2),
            threads=_positive(env, "THREADS", 8),
            task_tombstone_secs=_non_negative(env, "TASK_TOMBSTONE_SECS", 3600),
            taskqueue_compat=_choice(env, "TASKQUEUE_COMPAT", ("", "render")),
            allowed_hosts=parse_allowed(env.get("ALLOWED_HOSTS")),
            background_work=_choice(env, "BACKGROUND_WORK", ("", "serve", "apart")) or "serve",
            app_engine_url=_url(env, "APP_ENGINE_URL"),
            app_engine_service_urls=env.get("APP_ENGINE_SERVICE_URLS") or None,
            queue_recreate_secs=_non_negative(env, "QUEUE_RECREATE_SECS", 60),
            finished_task_secs=_non_negative(env, "FINISHED_TASK_SECS", 3600),
            firebase_functions_url=_url(env, "FIREBASE_FUNCTIONS_URL") or "http://127.0.0.1:5001",
            oidc_issuer=_url(env, "OIDC_ISSUER"),
            data_dir=Path(env.get("DATA_DIR") or "queueservice-data"),
            data_fsync=_choice(env, "DATA_FSYNC", ("", "second", "always")) or "second",
            embedded_url=env.get("QUEUESERVICE_EMBEDDED_URL") or None,
        )
