"""The pull-queue store: domain verbs over Redis, each one atomic Lua script and one round trip.

Times are microseconds since the epoch, read from Redis TIME inside the scripts, so every
service process shares one clock. Inputs are trusted: the API layer has checked them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from redis.cluster import RedisCluster

from queueservice.redis_helpers.clock import Clock
from queueservice.redis_helpers.keyspace import delete_matching
from queueservice.redis_helpers.scripts import Scripts

from queueservice.stores.pullqueue.errors import (
    LeaseExpired,
    LeaseHeldByAnother,
    NotADeadLetter,
    TaskDeletedAlready,
    TaskNameTaken,
    TaskNameTombstoned,
    TaskNotFound,
)
from queueservice.errors import StartupError
from queueservice.stores.pullqueue.keys import (
    DATA_VERSION,
    EVERY_QUEUE_KEY,
    FIRST_LAYOUT_PATTERN,
    REGISTRY,
    TOMBSTONES_PATTERN,
    QueueKeys,
    parse_registry_entry,
    registry_entry,
)

LUA_DIR = Path(__file__).with_name("lua")
STATES = ("all", "available", "leased", "delayed", "dead")
#: Payload bytes one lease may hand out (at least one task): a reply must reach the client
#: well within REDIS_TIMEOUT_SECS, or tasks would be leased that nobody received.
MAX_LEASE_REPLY_BYTES = 32 * 1024 * 1024
#: A process registers a queue again after this long, so a queue forgotten by another process
#: comes back on its next insert (forgetting waits for much longer idleness than this).
REGISTER_REFRESH_SECS = 60
#: Queues per call of the many-queue scripts on a standalone Redis: each call stays short.
MANY_CHUNK = 1000
#: The layout of the keys this store writes (keys.py); version 1 is migrated on first use.
LAYOUT_VERSION = 2
#: Tasks per call of the migration script.
MIGRATE_CHUNK = 1000
#: Queues whose script KEYS a store keeps built (see TaskStore._keys_for).
KEYS_KEPT = 1024


class Code(IntEnum):
    """Return codes of the Lua scripts (first element of their reply)."""

    OK = 0
    NOT_FOUND = 1
    TASK_EXISTS = 2
    LEASE_EXPIRED = 3
    LEASE_MISMATCH = 4
    NOT_DEAD = 5
    TOMBSTONED = 6
    DELETED_ALREADY = 7


_ERRORS = {
    Code.NOT_FOUND: (TaskNotFound, "Task {name} does not exist in queue {queue}"),
    Code.TASK_EXISTS: (TaskNameTaken, "Task name {name} is already taken in queue {queue}"),
    Code.LEASE_EXPIRED: (LeaseExpired, "The lease on task {name} has expired (or it is not leased)"),
    Code.LEASE_MISMATCH: (LeaseHeldByAnother,
                          "The lease on task {name} has expired: the task is now held by another lease"),
    Code.NOT_DEAD: (NotADeadLetter, "Task {name} is not a dead letter"),
    Code.TOMBSTONED: (TaskNameTombstoned, "Task name {name} is tombstoned: a task of that name was deleted "
                                          "from queue {queue} recently, and its name stays reserved"),
    # Workers that retry a delete match "task name is invalid" in this message and treat it as done.
    Code.DELETED_ALREADY: (TaskDeletedAlready, "The task name is invalid: task {name} was deleted from "
                                              "queue {queue} already (its name is tombstoned)"),
}


def _raise_for(code: int, keys: QueueKeys, name: str):
    error, message = _ERRORS[Code(code)]
    raise error(message.format(name=name, queue=keys.queue))


@dataclass(frozen=True)
class Task:
    """A task as stored; `urlsafe` remembers the producer's base64 alphabet."""

    name: str
    enqueue_usec: int
    lease_usec: int
    retry_count: int
    urlsafe: bool
    tag: bytes
    payload: bytes | None

    @classmethod
    def from_reply(cls, reply, payload=None) -> "Task":
        name, enq, lease, rc, alphabet, tag, stored = reply
        return cls(name=name.decode("utf-8"), enqueue_usec=int(enq), lease_usec=int(lease),
                   retry_count=int(rc), urlsafe=alphabet == b"u", tag=tag,
                   payload=stored if payload is None else payload)


@dataclass(frozen=True)
class QueueStats:
    total_tasks: int
    oldest_task_usec: int
    leased_last_minute: int
    leased_last_hour: int
    available: int
    dead_lettered: int
    leased: int

    @property
    def delayed(self) -> int:
        """Live tasks neither available nor leased: not yet due."""
        return max(0, self.total_tasks - self.available - self.leased)


@dataclass(frozen=True)
class LeaseResult:
    tasks: list
    dead_lettered: int


@dataclass(frozen=True)
class Page:
    """A page of tasks; `total` is the count in that state, or None when a filter makes it unknown."""

    tasks: list
    total: int | None
    now_usec: int


def state_of(task: "Task", now_usec: int, dead: bool = False) -> str:
    """available, leased, delayed or dead, as of `now_usec` (Redis time)."""
    if dead:
        return "dead"
    if task.lease_usec > now_usec:
        return "leased" if task.retry_count > 0 else "delayed"
    return "available"


@dataclass(frozen=True)
class Event:
    task: str
    event: str
    retry_count: int
    at_usec: int


class TaskStore:
    """Tasks of App Engine pull queues in Redis. Every method is atomic.

    Raises NotFound, Conflict or FailedPrecondition as documented per method; Redis
    connection errors propagate (the engine answers 503).
    """

    def __init__(self, client, history_max_events: int = 10_000, tombstone_secs: int = 0, clock: Clock | None = None):
        """`tombstone_secs`: how long a deleted task's name stays reserved (0: not at all); `clock`
        the shared clock (Redis TIME plus the offset tests may set)."""
        self._redis = client
        self.clock = clock or Clock(client)
        self._scripts = Scripts(client, LUA_DIR)
        self._history = max(0, history_max_events)
        self._tombstone_usec = max(0, tombstone_secs) * 1_000_000
        self._registered = {}
        self._cluster = isinstance(client, RedisCluster)
        self._layout_checked = False
        self._layout_lock = threading.Lock()
        self._script_keys = {}
        # The last listing, reused while the registry is unchanged (thousands of queues take
        # tens of ms to parse and sort): (members, sorted QueueKeys, {QueueKeys: (tasks, stats)}).
        self._listing = (frozenset(), [], {})

    @staticmethod
    def keys(project: str, queue: str) -> QueueKeys:
        return QueueKeys(project, queue)

    def _run(self, script: str, keys: QueueKeys, *args):
        self._check_layout()
        script_keys, base = self._script_keys.get(keys) or self._build_script_keys(keys)
        return self._scripts.run(script, script_keys, [base, self._history, *args])

    def _check_layout(self):
        if not self._layout_checked:
            self.check_layout()

    def check_layout(self) -> int:
        """Make sure the store holds this layout, once per process: data of the first layout
        (before the store's version key existed) is migrated, queue by queue, in steps of
        MIGRATE_CHUNK tasks, and the version is then recorded. Returns how many queues were
        migrated. Raises StartupError for data of a newer layout; Redis errors propagate (the
        check runs again on the next call)."""
        if self._layout_checked:
            return 0
        with self._layout_lock:
            if self._layout_checked:
                return 0
            migrated = 0
            version = self._redis.get(DATA_VERSION)
            if version is None:
                migrated = self._migrate_first_layout()
                self._redis.set(DATA_VERSION, LAYOUT_VERSION, nx=True)
                version = self._redis.get(DATA_VERSION)
            if int(version) != LAYOUT_VERSION:
                raise StartupError(f"the pull-queue data in Redis has layout version {int(version)}, but this "
                                   f"queueservice reads version {LAYOUT_VERSION}: run a queueservice as new as "
                                   "the one that wrote it, or use another Redis (or DATA_DIR)")
            self._layout_checked = True
            return migrated

    def _migrate_first_layout(self) -> int:
        queues = {QueueKeys.from_key(key) for key in self._redis.scan_iter(match=FIRST_LAYOUT_PATTERN, count=1000)}
        for keys in sorted(queues, key=lambda k: (k.project, k.queue)):
            while int(self._scripts.run("migrate_v1", self._keys_for(keys), [keys.base, self._history, MIGRATE_CHUNK])):
                pass
            # Indexes of tags the first layout kept for tasks that no longer existed.
            for key in list(self._redis.scan_iter(match=keys.base + "tag:*", count=1000)):
                self._redis.delete(key)
        return len(queues)

    def _keys_for(self, keys: QueueKeys) -> tuple:
        """What a script of one queue gets as KEYS: the queue's keys, then the clock's."""
        return (self._script_keys.get(keys) or self._build_script_keys(keys))[0]

    def _build_script_keys(self, keys: QueueKeys) -> tuple:
        """(KEYS, base) of the queue's scripts, kept for the last KEYS_KEPT queues: each build
        writes a string per key, and every property of QueueKeys the base again."""
        if len(self._script_keys) >= KEYS_KEPT:
            self._script_keys.clear()
        built = self._script_keys[keys] = ((*keys.all(), self.clock.key(keys.base)), keys.base)
        return built

    def _register(self, keys: QueueKeys):
        """Remember the queue in the registry once per process (a second round trip only then)."""
        entry, now = registry_entry(keys), time.monotonic()
        if now - self._registered.get(entry, -REGISTER_REFRESH_SECS) >= REGISTER_REFRESH_SECS:
            self._redis.sadd(REGISTRY, entry)
            self._registered[entry] = now

    def insert(self, keys: QueueKeys, name: str, payload: bytes, *, tag: bytes = b"",
               eta_usec: int = 0, delay_secs: int = 0, urlsafe: bool = False) -> Task:
        """Add a task; `eta_usec` > 0 delays it until then, or else `delay_secs` from now (Redis time).

        Raises Conflict if `name` is taken or still tombstoned.
        """
        self._register(keys)
        reply = self._run("insert", keys, name, payload, eta_usec, "u" if urlsafe else "s", tag,
                          delay_secs * 1_000_000, "1" if self._tombstone_usec else "0")
        if reply[0] != Code.OK:
            _raise_for(reply[0], keys, name)
        if int(reply[2]):  # the queue was empty, so a sweep may have forgotten it: list it again
            self._redis.sadd(REGISTRY, registry_entry(keys))
            self._registered[registry_entry(keys)] = time.monotonic()
        return Task.from_reply(reply[1], payload=payload)

    def insert_many(self, keys: QueueKeys, tasks, batch: int = 2000, tag: bytes = b"") -> int:
        """Insert (name, payload) pairs, each with `tag`, pipelined in batches; each insert is its
        own atomic script. Names already taken are skipped. Returns how many were inserted."""
        self._check_layout()
        self._register(keys)
        script, inserted, pending = self._scripts.script("insert"), 0, []

        def flush():
            nonlocal inserted
            honour = "1" if self._tombstone_usec else "0"
            args = [[keys.base, self._history, name, payload, 0, "s", tag, 0, honour] for name, payload in pending]
            if isinstance(self._redis, RedisCluster):  # redis-py refuses EVALSHA in cluster pipelines
                replies = [script(keys=self._keys_for(keys), args=a) for a in args]
            else:
                pipe = self._redis.pipeline(transaction=False)
                for a in args:
                    script(keys=self._keys_for(keys), args=a, client=pipe)
                replies = pipe.execute()
            inserted += sum(1 for reply in replies if reply[0] == Code.OK)
            pending.clear()

        for item in tasks:
            pending.append(item)
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
        return inserted

    def get(self, keys: QueueKeys, name: str) -> Task:
        """One task with its payload. Raises NotFound."""
        reply = self._run("get", keys, name)
        if reply[0] != Code.OK:
            _raise_for(reply[0], keys, name)
        return Task.from_reply(reply[1])

    def delete(self, keys: QueueKeys, name: str) -> None:
        """Remove a task whatever its state, and tombstone its name for `tombstone_secs`.

        Raises NotFound, or InvalidArgument when the task was deleted already and its name
        is still tombstoned (what Google answered a repeated delete).
        """
        reply = self._run("delete", keys, name, self._tombstone_usec)
        if reply[0] != Code.OK:
            _raise_for(reply[0], keys, name)

    def list(self, keys: QueueKeys, limit: int, *, payloads: bool = False) -> list:
        """Up to `limit` live tasks in enqueue order, with their payloads only if asked (then fewer
        tasks once their payloads pass MAX_LEASE_REPLY_BYTES, always at least one)."""
        return [Task.from_reply(r) for r in self._run("list", keys, limit, "1" if payloads else "0",
                                                      MAX_LEASE_REPLY_BYTES)]

    def clear_tombstones(self, keys: QueueKeys) -> int:
        """Free every tombstoned name of the queue at once (for tests); returns how many."""
        return int(self._run("clear_tombstones", keys))

    def clear_all_tombstones(self) -> int:
        """Free every tombstoned name of every queue (for tests); returns how many.

        Found by key pattern rather than the queue registry, so no queue is missed."""
        freed = 0
        for key in list(self._redis.scan_iter(match=TOMBSTONES_PATTERN, count=1000)):
            freed += int(self._run("clear_tombstones", QueueKeys.from_key(key)))
        return freed

    def lease(self, keys: QueueKeys, count: int, lease_secs: int, *, tag: bytes | None = None,
              first_tag: bool = False, max_leases: int = 0) -> LeaseResult:
        """Lease up to `count` available tasks for `lease_secs` seconds.

        `tag` restricts to that tag; `first_tag` to the tag of the first available task.
        Tasks already leased `max_leases` times (0: no limit) are set aside as dead letters.
        Fewer tasks are handed out when their payloads would pass MAX_LEASE_REPLY_BYTES.
        """
        mode = "tag" if tag is not None else ("first-tag" if first_tag else "any")
        dead, replies = self._run("lease", keys, count, lease_secs * 1_000_000, mode, tag or b"", max_leases,
                                  MAX_LEASE_REPLY_BYTES)
        return LeaseResult(tasks=[Task.from_reply(r) for r in replies], dead_lettered=int(dead))

    def renew(self, keys: QueueKeys, name: str, lease_secs: int, *,
              expected_lease_usec: int | None = None) -> Task:
        """Set a leased task's lease to now + `lease_secs` (0 releases it at once).

        With `expected_lease_usec`, the caller must hold the current lease. Raises NotFound,
        or FailedPrecondition when the lease has run out or belongs to another lease.
        """
        expected = "" if expected_lease_usec is None else str(expected_lease_usec)
        reply = self._run("renew", keys, name, lease_secs * 1_000_000, expected)
        if reply[0] != Code.OK:
            _raise_for(reply[0], keys, name)
        return Task.from_reply(reply[1])

    def stats(self, keys: QueueKeys) -> QueueStats:
        """Counts of the queue now; lease counts cover the last 60 s and the last 60 minutes."""
        return self.summaries([keys])[0]

    def requeue(self, keys: QueueKeys, name: str) -> Task:
        """Put a dead letter back, available now, retry count 0. Raises NotFound, FailedPrecondition."""
        reply = self._run("requeue", keys, name)
        if reply[0] != Code.OK:
            _raise_for(reply[0], keys, name)
        return Task.from_reply(reply[1])

    def requeue_dead(self, keys: QueueKeys, limit: int = 1000) -> tuple:
        """Requeue up to `limit` dead letters, oldest first; returns (requeued, dead letters left)."""
        requeued, remaining = self._run("requeue_dead", keys, limit)
        return int(requeued), int(remaining)

    def purge_step(self, keys: QueueKeys, limit: int = 1000) -> tuple:
        """Delete up to `limit` tasks, oldest first; returns (deleted, remaining)."""
        deleted, remaining = self._run("purge", keys, limit)
        return int(deleted), int(remaining)

    def browse(self, keys: QueueKeys, state: str, offset: int = 0, count: int = 50,
               tag: bytes | None = None) -> Page:
        """A page of tasks in `state` (one of STATES), without payloads."""
        total, replies, now = self._run("browse", keys, state, offset, count, tag or b"",
                                        "1" if tag is not None else "0")
        return Page(tasks=[Task.from_reply(r) for r in replies], total=None if int(total) < 0 else int(total),
                    now_usec=int(now))

    def inspect(self, keys: QueueKeys, name: str) -> tuple:
        """(task with payload, its state now, now in µs by the store's clock). Raises NotFound."""
        reply = self._run("inspect", keys, name)
        if reply[0] != Code.OK:
            _raise_for(reply[0], keys, name)
        task, now = Task.from_reply(reply[1]), int(reply[3])
        return task, state_of(task, now, dead=bool(reply[2])), now

    def history(self, keys: QueueKeys, task: str | None = None, limit: int = 200) -> list:
        """The newest transitions first, of one task or of the whole queue."""
        events, cursor = [], "+"
        while len(events) < limit:
            batch = self._redis.xrevrange(keys.history, max=cursor, min="-", count=500)
            if not batch:
                break
            for _entry_id, fields in batch:
                name = fields[b"task"].decode("utf-8", "replace")
                if task is None or name == task:
                    events.append(Event(task=name, event=fields[b"event"].decode(),
                                        retry_count=int(fields[b"retry_count"]), at_usec=int(fields[b"at"])))
                    if len(events) >= limit:
                        break
            cursor = "(" + batch[-1][0].decode()
        return events

    def reset(self) -> int:
        """Forget every queue, task, tombstone and history of this store (a reset for tests); the
        number of queues there were."""
        queues = self.queue_count()
        delete_matching(self._redis, EVERY_QUEUE_KEY, REGISTRY)
        return queues

    def now_usec(self) -> int:
        """The store's clock (Redis TIME plus the clock's offset), in µs."""
        return self.clock.now_usec()

    def _many(self, script: str, queues: list, arg: str = "", keys_of=QueueKeys.all) -> list:
        """Run a many-queue script: in chunks on a standalone Redis, one queue per call on a cluster
        (where a script's keys must share a slot). Returns (chunk, reply) of each call, in order."""
        self._check_layout()
        step = 1 if self._cluster else MANY_CHUNK
        replies = []
        for start in range(0, len(queues), step):
            chunk = queues[start:start + step]
            keys = [key for q in chunk for key in keys_of(q)]
            keys.append(self.clock.key(chunk[0].base))
            replies.append((chunk, self._scripts.run(script, keys, ["", self._history, arg])))
        return replies

    def active(self, queues: list) -> list:
        """The queues that hold a task (live or dead) or had a lease in the last hour, in order."""
        found = []
        pairs = self._listing[2]
        for chunk, positions in self._many("active", queues,
                                           keys_of=lambda q: pairs.get(q) or (q.tasks, q.stats)):
            found += [chunk[int(i) - 1] for i in positions]
        return found

    def summaries(self, queues: list, skip_idle: bool = False) -> list:
        """QueueStats of each queue, in order (as `stats`, but one round trip per 1000 queues on a
        standalone Redis). With `skip_idle`, None for a queue that `active` leaves out, uncounted."""
        if skip_idle:
            active = self.active(queues)
            counted = dict(zip(active, self.summaries(active)))
            return [counted.get(q) for q in queues]
        out = []
        for chunk, reply in self._many("stats_many", queues):
            out += [QueueStats(*(int(x) for x in reply[i * 7:(i + 1) * 7])) for i in range(len(chunk))]
        return out

    def forget_idle(self, idle_secs: float) -> int:
        """Forget queues that hold no task and were idle (no history event, no lease) for
        `idle_secs`: their history and counters are deleted and they leave the registry.
        Returns how many were forgotten."""
        forgotten = []
        for chunk, positions in self._many("forget", self.queues(), str(int(idle_secs * 1_000_000))):
            forgotten += [chunk[int(i) - 1] for i in positions]
        if not forgotten:
            return 0
        entries = [registry_entry(k) for k in forgotten]
        self._redis.srem(REGISTRY, *entries)
        for keys, stats in zip(forgotten, self.summaries(forgotten, skip_idle=True)):
            if stats is not None:  # an insert raced the removal: keep the queue listed
                self._redis.sadd(REGISTRY, registry_entry(keys))
        for entry in entries:
            self._registered.pop(entry, None)
        return len(forgotten)

    def queue_count(self) -> int:
        return int(self._redis.scard(REGISTRY))

    def queues(self) -> list:
        """Every queue that ever held a task, as QueueKeys, sorted."""
        members = frozenset(self._redis.smembers(REGISTRY))
        listing = self._listing
        if members != listing[0]:
            parsed = [parse_registry_entry(e) for e in members]
            ordered = [k for _, _, k in sorted((k.project, k.queue, k) for k in parsed)]
            listing = self._listing = (members, ordered, {k: (k.tasks, k.stats) for k in ordered})
        return list(listing[1])
