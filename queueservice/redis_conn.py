"""Connecting to the store: a Redis URL, a Redis Cluster, or the embedded in-memory Redis."""

from __future__ import annotations

import logging
import time

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

log = logging.getLogger("queueservice")

#: Redis failures that mean "the store is unavailable" rather than "the code is wrong".
UNAVAILABLE_ERRORS = (RedisConnectionError, RedisTimeoutError, redis.exceptions.BusyLoadingError,
                      redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
                      redis.exceptions.ReadOnlyError, redis.exceptions.MasterDownError)


class SafeConnection(redis.Connection):
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


def connect(settings):
    """A Redis client for `settings`; bounded timeouts so a lost Redis answers 503 quickly."""
    if settings.embedded:
        import fakeredis

        log.warning("REDIS_URL is unset: using the embedded in-memory store "
                    "(one process, lost on exit)")
        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    timeouts = dict(socket_timeout=settings.redis_timeout_secs,
                    socket_connect_timeout=settings.redis_timeout_secs,
                    retry=Retry(NoBackoff(), 0))
    if settings.redis_cluster:
        from redis.cluster import RedisCluster

        log.info("using Redis Cluster at %s", _safe(settings.redis_url))
        return RedisCluster.from_url(settings.redis_url, **timeouts)
    log.info("using Redis at %s", _safe(settings.redis_url))
    return redis.Redis.from_url(settings.redis_url, connection_class=SafeConnection,
                                health_check_interval=1, **timeouts)


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
