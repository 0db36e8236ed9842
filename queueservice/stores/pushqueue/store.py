"""Cloud Tasks queues in Redis: domain verbs, each one atomic Lua script and one round trip.

Queues are kept as the API's JSON shape with the engine's typed values (see queues.py); every time
comes from the shared clock (Redis TIME plus the test offset). Tasks and dispatch come next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from queueservice.errors import Conflict, FailedPrecondition, NotFound
from queueservice.redis_helpers.clock import Clock
from queueservice.redis_helpers.scripts import Scripts
from queueservice.stores.pushqueue import queues as resources
from queueservice.stores.pushqueue.keys import REGISTRY, QueueKeys

LUA_DIR = Path(__file__).with_name("lua")
#: Attempts at an update whose queue another caller changed meanwhile.
UPDATE_TRIES = 5


class Code(IntEnum):
    OK = 0
    NOT_FOUND = 1
    EXISTS = 2
    RECENTLY_DELETED = 3
    CHANGED = 4


class QueueNotFound(NotFound):
    def __init__(self):
        super().__init__("Queue does not exist. If you just created the queue, wait at least a minute "
                         "for the queue to initialize.")


class QueueExists(Conflict):
    def __init__(self):
        super().__init__("Queue already exists")


class QueueRecentlyDeleted(FailedPrecondition):
    def __init__(self):
        super().__init__("The queue cannot be created because a queue with this name existed too recently.")


_ERRORS = {Code.NOT_FOUND: QueueNotFound, Code.EXISTS: QueueExists, Code.RECENTLY_DELETED: QueueRecentlyDeleted}


@dataclass(frozen=True)
class StoredQueue:
    """A queue as stored: the resource (typed), its state, its purge time (µs, 0: never), a version."""

    queue: dict
    state: str
    purge_usec: int
    version: str

    @classmethod
    def from_reply(cls, reply) -> "StoredQueue":
        _, config, state, purge, version = reply
        return cls(json.loads(config), state.decode(), int(purge), version.decode())

    def resource(self) -> dict:
        """The Queue as the API answers it: the stored one with its state and purge time."""
        out = {**self.queue, "state": self.state}
        if self.purge_usec:
            out["purgeTime"] = self.purge_usec
        return out


class PushQueueStore:
    """Cloud Tasks queues of every project and location. Raises QueueNotFound, QueueExists,
    QueueRecentlyDeleted; Redis connection errors propagate (the engine answers 503)."""

    def __init__(self, client, recreate_window_secs: int = 60, clock: Clock | None = None):
        """`recreate_window_secs`: how long a deleted queue's name cannot be created again."""
        self._redis = client
        self._scripts = Scripts(client, LUA_DIR)
        self._window_ms = max(0, recreate_window_secs) * 1000
        self.clock = clock or Clock(client)

    @staticmethod
    def keys(name: str) -> QueueKeys:
        return QueueKeys(*resources.split_name(name))

    def _run(self, script: str, keys: QueueKeys, *args):
        reply = self._scripts.run(script, keys.all() + [self.clock.key(keys.base)], list(args))
        if isinstance(reply, list) and reply and int(reply[0]) != Code.OK and Code(int(reply[0])) in _ERRORS:
            raise _ERRORS[Code(int(reply[0]))]()
        return reply

    def create(self, queue: dict) -> StoredQueue:
        """Add a queue (checked, with its defaults filled in by the caller)."""
        keys = self.keys(queue["name"])
        config = {k: v for k, v in queue.items() if k not in ("state", "purgeTime")}
        reply = self._run("create", keys, json.dumps(config), queue.get("state", "RUNNING"))
        self._redis.zadd(REGISTRY, {keys.entry: 0})
        return StoredQueue.from_reply(reply)

    def get(self, name: str) -> StoredQueue:
        return StoredQueue.from_reply(self._run("get", self.keys(name)))

    def update(self, name: str, change) -> StoredQueue:
        """Apply `change(current Queue or None) -> new Queue` atomically (optimistic: retried when
        another caller changed the queue meanwhile); a missing queue is created."""
        keys = self.keys(name)
        for _ in range(UPDATE_TRIES):
            reply = self._scripts.run("get", keys.all() + [self.clock.key(keys.base)], [])
            current = None if int(reply[0]) == Code.NOT_FOUND else StoredQueue.from_reply(reply)
            queue = change(current.queue if current else None)
            config = {k: v for k, v in queue.items() if k not in ("state", "purgeTime")}
            reply = self._scripts.run("put", keys.all() + [self.clock.key(keys.base)],
                                      [json.dumps(config), current.version if current else ""])
            if int(reply[0]) == Code.CHANGED:
                continue
            if int(reply[0]) != Code.OK:
                raise _ERRORS[Code(int(reply[0]))]()
            self._redis.zadd(REGISTRY, {keys.entry: 0})
            return StoredQueue.from_reply(reply)
        raise Conflict("The queue kept changing while it was updated; try again")

    def pause(self, name: str) -> StoredQueue:
        return StoredQueue.from_reply(self._run("set_state", self.keys(name), "PAUSED"))

    def resume(self, name: str) -> StoredQueue:
        return StoredQueue.from_reply(self._run("set_state", self.keys(name), "RUNNING"))

    def purge(self, name: str) -> StoredQueue:
        """Every task created before now is dropped (the time is kept as the queue's purgeTime)."""
        return StoredQueue.from_reply(self._run("purge", self.keys(name)))

    def delete(self, name: str) -> None:
        keys = self.keys(name)
        self._run("delete", keys, self._window_ms)
        self._redis.zrem(REGISTRY, keys.entry)

    def forget_deleted(self, name: str) -> bool:
        """Let a deleted queue's name be created again at once (a reset for tests)."""
        return bool(self._run("forget_deleted", self.keys(name)))

    def list(self, project: str, location: str, offset: int = 0, limit: int = 1000) -> list:
        """Queues of one project and location in name order, a page at a time."""
        prefix = f"{project}/{location}/"
        entries = self._redis.zrangebylex(REGISTRY, "[" + prefix, "[" + prefix + "\xff", start=offset, num=limit)
        out = []
        for entry in entries:
            keys = QueueKeys.from_entry(entry)
            reply = self._scripts.run("get", keys.all() + [self.clock.key(keys.base)], [])
            if int(reply[0]) == Code.OK:
                out.append(StoredQueue.from_reply(reply))
        return out
