"""Connecting to the store: a Redis URL, a Redis Cluster, or the embedded in-memory Redis."""

from __future__ import annotations

import logging
import time

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from queueservice.errors import StartupError

log = logging.getLogger("queueservice")

#: Redis failures that mean "the store is unavailable" rather than "the code is wrong".
UNAVAILABLE_ERRORS = (RedisConnectionError, RedisTimeoutError, redis.exceptions.BusyLoadingError,
                      redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
                      redis.exceptions.ReadOnlyError, redis.exceptions.MasterDownError)


class _HealingHealthCheck:
    """A connection that heals after a Redis restart without ever running a command twice.

    Commands are not retried (a script may have run before the connection broke, and
    running insert or lease again would not be the same). Only the health-check PING,
    sent before a command on a connection idle for a second, is retried once on a fresh
    socket when the old one was closed, so a connection left stale by a restart is replaced
    before it is used. A PING that times out is not retried: Redis is slow, not restarted.
    """

    def check_health(self):
        if self.health_check_interval and time.monotonic() > self.next_health_check:
            try:
                self._send_ping()
            except RedisConnectionError:
                self.disconnect()
                self._send_ping()


class SafeConnection(_HealingHealthCheck, redis.Connection):
    """Plain TCP (`redis://`)."""


class SafeSSLConnection(_HealingHealthCheck, redis.SSLConnection):
    """TLS (`rediss://`, with redis-py's query options such as `ssl_cert_reqs`, `ssl_ca_certs`)."""


class SafeUnixConnection(_HealingHealthCheck, redis.UnixDomainSocketConnection):
    """A Unix socket (`unix:///path/to/redis.sock?db=0`)."""


CONNECTION_CLASSES = {"redis": SafeConnection, "rediss": SafeSSLConnection, "unix": SafeUnixConnection}


def scheme_of(url: str) -> str:
    """The URL's scheme, or StartupError naming the ones supported."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in CONNECTION_CLASSES:
        raise StartupError(f"REDIS_URL {_safe(url)!r} has an unsupported scheme; use redis://host:port/db, "
                           "rediss://host:port/db (TLS) or unix:///path/to/redis.sock")
    return scheme


def connect(settings):
    """A Redis client for `settings`; bounded timeouts so a lost Redis answers 503 quickly.

    Raises StartupError for a URL or cluster setting that cannot work.
    """
    timeouts = dict(socket_timeout=settings.redis_timeout_secs,
                    socket_connect_timeout=settings.redis_timeout_secs,
                    retry=Retry(NoBackoff(), 0))
    if settings.embedded and settings.embedded_url:  # the server that gunicorn's master runs (embedded.py)
        log.info("using the embedded store server (DATA_DIR %s)", settings.data_dir.resolve())
        return redis.Redis.from_url(settings.embedded_url, connection_class=SafeUnixConnection,
                                    health_check_interval=1, **timeouts)
    if settings.embedded:
        import fakeredis

        log.warning("REDIS_URL is unset: using the embedded in-memory store "
                    "(one process, lost on exit)")
        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    scheme = scheme_of(settings.redis_url)
    if settings.redis_cluster:
        return _connect_cluster(settings, scheme, timeouts)
    log.info("using Redis at %s", _safe(settings.redis_url))
    try:
        return redis.Redis.from_url(settings.redis_url, connection_class=CONNECTION_CLASSES[scheme],
                                    health_check_interval=1, **timeouts)
    except (ValueError, TypeError) as exc:
        raise StartupError(f"REDIS_URL {_safe(settings.redis_url)!r} is not valid: {exc}") from None


def _connect_cluster(settings, scheme, timeouts):
    from redis.cluster import RedisCluster
    from redis.exceptions import RedisClusterException

    url = _safe(settings.redis_url)
    if scheme == "unix":
        raise StartupError(f"REDIS_CLUSTER=true needs a redis:// or rediss:// URL, not {url!r}")
    log.info("using Redis Cluster at %s", url)
    try:
        return RedisCluster.from_url(settings.redis_url, **timeouts)
    except RedisClusterException as exc:
        if "cluster mode is not enabled" in str(exc).lower():
            raise StartupError(f"REDIS_CLUSTER=true but the Redis at {url} is not a cluster node; "
                               "unset REDIS_CLUSTER (or point REDIS_URL at a cluster node)") from None
        raise StartupError(f"REDIS_CLUSTER=true but no Redis Cluster answers at {url}: {exc}") from None
    except (redis.exceptions.RedisError, ValueError, TypeError) as exc:
        raise StartupError(f"REDIS_CLUSTER=true but no Redis Cluster answers at {url}: {exc}") from None


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def ping(client) -> bool:
    try:
        return bool(client.ping())
    except UNAVAILABLE_ERRORS:
        return False


#: Every policy but noeviction lets Redis delete keys, and a deleted key is a lost task.
SAFE_POLICY = "noeviction"
OUT_OF_MEMORY = redis.exceptions.OutOfMemoryError
OUT_OF_MEMORY_MESSAGE = ("The task store is out of memory (Redis maxmemory reached), so the call was not run; "
                         "delete tasks or raise Redis maxmemory, then retry")


def evicting_policy_message(policy: str) -> str:
    return (f"Redis maxmemory-policy is {policy}, which can evict task data; run "
            f"`CONFIG SET maxmemory-policy {SAFE_POLICY}` (or start redis-server with "
            f"--maxmemory-policy {SAFE_POLICY})")


def memory_info(client) -> list | None:
    """INFO memory of every node ([dict]), or None when Redis refuses INFO (a managed Redis may)."""
    from redis.cluster import RedisCluster

    try:
        if isinstance(client, RedisCluster):
            info = client.info("memory", target_nodes=RedisCluster.PRIMARIES)
        else:
            info = client.info("memory")
    except redis.exceptions.ResponseError:
        return None
    if info and all(isinstance(v, dict) for v in info.values()):  # a cluster: one dict per node
        return list(info.values())
    return [info]


def memory_problem(client) -> str | None:
    """Why Redis cannot keep tasks safely (an evicting policy, maxmemory reached), or None.

    Raises the Redis connection errors (the store is unavailable).
    """
    nodes = memory_info(client)
    if nodes is None:
        return None
    for info in nodes:
        policy = str(info.get("maxmemory_policy", SAFE_POLICY))
        if policy != SAFE_POLICY:
            return evicting_policy_message(policy)
        maxmemory = int(info.get("maxmemory", 0) or 0)
        if maxmemory and int(info.get("used_memory", 0)) >= maxmemory:
            return OUT_OF_MEMORY_MESSAGE
    return None


def check_policy_at_start(client) -> None:
    """Refuse (StartupError) a Redis that may evict task data; log when that cannot be checked."""
    try:
        nodes = memory_info(client)
    except redis.exceptions.AuthenticationError as exc:
        raise StartupError(f"Redis refused the credentials of REDIS_URL ({exc}); fix the user or password "
                           "in REDIS_URL") from None
    except UNAVAILABLE_ERRORS as exc:
        if "certificate" in str(exc).lower() or "ssl" in str(exc).lower():
            raise StartupError(f"the TLS connection to Redis failed ({exc}); trust its certificate with "
                               "?ssl_ca_certs=/path/ca.pem in REDIS_URL, or check the scheme "
                               "(rediss:// for TLS, redis:// without)") from None
        log.warning("could not check Redis maxmemory-policy at start (%s); /healthz checks it "
                    "once Redis answers", exc)
        return
    if nodes is None:
        log.warning("Redis refuses INFO (a managed Redis may rename it): cannot check that "
                    "maxmemory-policy is %s; make sure it is, or tasks may be evicted", SAFE_POLICY)
        return
    for info in nodes:
        policy = str(info.get("maxmemory_policy", SAFE_POLICY))
        if policy != SAFE_POLICY:
            raise StartupError(evicting_policy_message(policy))
