"""The one clock: Redis TIME plus an offset kept in Redis, which tests and the admin API move
forward so that schedules, leases and tombstones come due at once instead of after a sleep.

Every Lua script reads the offset from the clock key it is given (the last of its KEYS), so all
processes and instances on one Redis share it. On a Redis Cluster a script may only touch keys of
its queue's slot, so there each queue has its own, never-set clock key: the offset stays 0 there.
"""

from __future__ import annotations

from queueservice.errors import FailedPrecondition

#: The clock key of a standalone Redis: the offset in µs (absent: 0).
CLOCK_KEY = "qs:clock"
#: Pub/sub channel told the new offset whenever the clock moves, so sleepers wake to what came due.
CLOCK_CHANNEL = "qs:clock:moved"


class Clock:
    def __init__(self, client):
        from redis.cluster import RedisCluster

        self._redis = client
        self.cluster = isinstance(client, RedisCluster)

    def key(self, base: str) -> str:
        """The clock key to hand a script of the queue whose keys start with `base`."""
        return base + "clock" if self.cluster else CLOCK_KEY

    def offset_usec(self) -> int:
        if self.cluster:
            return 0
        return int(self._redis.get(CLOCK_KEY) or 0)

    def advance(self, usec: int) -> int:
        """Move the clock forward by `usec` (≥ 0); returns the new offset. Not on a cluster."""
        if self.cluster:
            raise FailedPrecondition("The clock can be moved only on a standalone Redis, not a Redis Cluster")
        offset = int(self._redis.incrby(CLOCK_KEY, usec))
        self._redis.publish(CLOCK_CHANNEL, offset)
        return offset

    def reset(self) -> None:
        """Back to Redis TIME. Times already stored (leases, schedules) stay as they were."""
        if not self.cluster:
            self._redis.delete(CLOCK_KEY)
            self._redis.publish(CLOCK_CHANNEL, 0)

    def now_usec(self) -> int:
        """TIME and the offset, read in one round trip."""
        if self.cluster:
            seconds, micros = self._redis.time()
            return seconds * 1_000_000 + micros
        pipe = self._redis.pipeline(transaction=False)
        pipe.time()
        pipe.get(CLOCK_KEY)
        (seconds, micros), offset = pipe.execute()
        return seconds * 1_000_000 + micros + int(offset or 0)
