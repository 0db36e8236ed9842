"""Cloud Tasks queues and tasks in Redis: domain verbs, each one atomic Lua script and one round trip.

Queues are kept as the API's JSON shape with the engine's typed values (see queues.py); every time
comes from the shared clock (Redis TIME plus the test offset). Besides the live tasks, a queue keeps
its finished tasks (succeeded, or dropped after their last attempt) for a while, each task's last
attempts, and counters of its dispatches, for the operator tools.
"""

from __future__ import annotations

import bisect
import json
import secrets
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from queueservice.errors import Conflict, FailedPrecondition, NotFound
from queueservice.redis_helpers.clock import CLOCK_CHANNEL, Clock
from queueservice.redis_helpers.keyspace import delete_matching
from queueservice.redis_helpers.scripts import Scripts
from queueservice.stores.pushqueue import queues as resources
from queueservice.stores.pushqueue.keys import EVERY_QUEUE_KEY, REGISTRY, WAKE_CHANNEL, QueueKeys

LUA_DIR = Path(__file__).with_name("lua")
#: Attempts at an update whose queue another caller changed meanwhile.
UPDATE_TRIES = 5
#: Upper bounds (s) of the dispatch latency histogram's buckets; one more bucket holds the rest.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
#: Finished tasks a queue keeps at most (the newest), whatever their age.
FINISHED_KEPT = 1000


class Code(IntEnum):
    OK = 0
    NOT_FOUND = 1
    EXISTS = 2
    RECENTLY_DELETED = 3
    CHANGED = 4
    TASK_EXISTS = 5
    TASK_NOT_FOUND = 6
    TASK_GONE = 7
    CLAIM_LOST = 8


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


class TaskExists(Conflict):
    def __init__(self):
        super().__init__("Requested entity already exists")


class TaskNotFound(NotFound):
    def __init__(self):
        super().__init__("Requested entity was not found.")


class TaskGone(NotFound):
    def __init__(self):
        super().__init__("The task no longer exists, though a task with this name existed recently. "
                         "The task either successfully completed or was deleted.")


_ERRORS = {Code.NOT_FOUND: QueueNotFound, Code.EXISTS: QueueExists, Code.RECENTLY_DELETED: QueueRecentlyDeleted,
           Code.TASK_EXISTS: TaskExists, Code.TASK_NOT_FOUND: TaskNotFound, Code.TASK_GONE: TaskGone}


@dataclass(frozen=True)
class Attempts:
    """What the store counts of a task's attempts (times in µs; status -1: no answer)."""

    dispatches: int
    responses: int
    first_dispatch_usec: int
    last_schedule_usec: int
    last_dispatch_usec: int
    last_response_usec: int
    last_status: int
    deadline_usec: int
    answers_below_500: int = 0

    @classmethod
    def unpack(cls, packed) -> "Attempts":
        text = packed.decode() if isinstance(packed, bytes) else packed
        return cls(*(int(float(x)) for x in text.split(",")))


@dataclass(frozen=True)
class StoredTask:
    """A task as stored: the Task (typed JSON), its attempts, when it is next due (µs; 0 while it
    is being sent) and when it was created (µs)."""

    task: dict
    attempts: Attempts
    due_usec: int
    created_usec: int

    @classmethod
    def from_reply(cls, reply) -> "StoredTask":
        json_text, attempts, due, created = reply[-4:]
        return cls(json.loads(json_text), Attempts.unpack(attempts), int(float(due)), int(float(created)))


def parse_log(packed) -> list:
    """A task's attempt log: [(dispatch_usec, response_usec, status or None)], oldest first."""
    text = packed.decode() if isinstance(packed, bytes) else (packed or "")
    out = []
    for entry in filter(None, text.split(";")):
        dispatch, response, status = (int(float(x)) for x in entry.split(","))
        out.append((dispatch, response, None if status < 0 else status))
    return out


@dataclass(frozen=True)
class FinishedTask:
    """A task that succeeded (`outcome` "succeeded") or was dropped after its last attempt
    ("dropped"), as it was then, with its attempts."""

    task: dict
    attempts: Attempts
    log: list
    created_usec: int
    finished_usec: int
    outcome: str

    @classmethod
    def from_json(cls, text) -> "FinishedTask":
        record = json.loads(text)
        return cls(record["task"], Attempts.unpack(record["attempts"]), parse_log(record["log"]),
                   int(record["created"]), int(record["finished"]), record["outcome"])


@dataclass(frozen=True)
class Counts:
    """A queue's tasks by state: waiting for their first attempt, waiting for a retry, being sent,
    and finished lately (kept for the operator tools)."""

    scheduled: int
    retrying: int
    running: int
    finished: int


@dataclass(frozen=True)
class Claim:
    """A task claimed for one attempt: the sender holds it until `until_usec`."""

    task_id: str
    task: dict
    attempts: Attempts
    until_usec: int


@dataclass(frozen=True)
class Claimed:
    """What one claim call gave: the tasks to send now, the store's time, when claiming again may
    give more (µs; None: not before a wake message on keys.WAKE_CHANNEL), and the queue's
    configuration as the claims were made (its targets' overrides, its retry settings)."""

    claims: list
    now_usec: int
    next_usec: int | None
    queue: dict

    @classmethod
    def from_reply(cls, reply) -> "Claimed":
        _, now, next_due, config, *entries = reply
        claims = [Claim(tid.decode(), json.loads(body), Attempts.unpack(att), int(float(until)))
                  for tid, body, att, until in entries]
        next_due = int(float(next_due))
        return cls(claims, int(float(now)), None if next_due < 0 else next_due, json.loads(config))


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

    def __init__(self, client, recreate_window_secs: int = 60, tombstone_secs: int = 3600,
                 clock: Clock | None = None, finished_secs: int = 3600):
        """`recreate_window_secs`: how long a deleted queue's name cannot be created again;
        `tombstone_secs`: how long a deleted task's id cannot be used again (0: not at all);
        `finished_secs`: how long a finished task stays visible to the operator tools (0: not kept)."""
        self._redis = client
        self._finished_usec = max(0, finished_secs) * 1_000_000
        self._scripts = Scripts(client, LUA_DIR)
        self._window_ms = max(0, recreate_window_secs) * 1000
        self._tombstone_usec = max(0, tombstone_secs) * 1_000_000
        self.clock = clock or Clock(client)

    @staticmethod
    def keys(name: str) -> QueueKeys:
        return QueueKeys(*resources.split_name(name))

    def _call(self, script: str, keys: QueueKeys, *args):
        """Run a script of one queue (its keys, then the clock's) and answer its reply as it is."""
        return self._scripts.run(script, keys.all() + [self.clock.key(keys.base)], list(args))

    def _run(self, script: str, keys: QueueKeys, *args):
        """`_call`, raising the domain error a reply's code names."""
        reply = self._call(script, keys, *args)
        if isinstance(reply, list) and reply and isinstance(reply[0], int) and reply[0] != Code.OK \
                and Code(reply[0]) in _ERRORS:
            raise _ERRORS[Code(reply[0])]()
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
            reply = self._call("get", keys)
            current = None if int(reply[0]) == Code.NOT_FOUND else StoredQueue.from_reply(reply)
            queue = change(current.queue if current else None)
            config = {k: v for k, v in queue.items() if k not in ("state", "purgeTime")}
            reply = self._call("put", keys, json.dumps(config), current.version if current else "")
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

    def purge(self, name: str, step: int = 10_000) -> StoredQueue:
        """Delete every task created before now (the time becomes the queue's purgeTime), in steps
        of `step` tasks so that no script call runs long; tasks created meanwhile are kept."""
        keys, first = self.keys(name), "1"
        while True:
            _, deleted, left = self._run("purge", keys, step, first)
            first = "0"
            if not int(left) or not int(deleted):
                return self.get(name)

    def create_task(self, queue_name: str, task_id: str | None, task: dict, due_usec: int = 0,
                    deadline_usec: int = 600_000_000) -> StoredTask:
        """Add a task (the Task resource, typed, without its name) due at `due_usec` (0: now).
        `task_id` None makes one of decimal digits, as Google does. Raises QueueNotFound, TaskExists."""
        keys = self.keys(queue_name)
        task_id = task_id or str(secrets.randbelow(10**19)).zfill(19)
        resource = {**task, "name": f"{queue_name}/tasks/{task_id}"}
        reply = self._run("task_create", keys, task_id, json.dumps(resource), due_usec,
                          "1" if self._tombstone_usec else "0", deadline_usec)
        return StoredTask.from_reply(reply)

    def get_task(self, queue_name: str, task_id: str) -> StoredTask:
        """Raises TaskNotFound, or TaskGone for a task deleted (or done) within the tombstone window."""
        return StoredTask.from_reply(self._run("task_get", self.keys(queue_name), task_id))

    def delete_task(self, queue_name: str, task_id: str) -> None:
        """The task is never sent afterwards. Raises TaskNotFound."""
        self._run("task_delete", self.keys(queue_name), task_id, self._tombstone_usec)

    def list_tasks(self, queue_name: str, offset: int = 0, limit: int = 1000) -> tuple:
        """([StoredTask] in creation order, how many tasks the queue holds)."""
        self.get(queue_name)  # a missing queue is NOT_FOUND, not an empty list
        reply = self._run("task_list", self.keys(queue_name), offset, limit)
        return [StoredTask.from_reply(r) for r in reply[2:]], int(reply[1])

    def claim(self, queue_name: str, most: int, grace_usec: int = 5_000_000) -> Claimed:
        """Claim up to `most` due tasks for sending, as the queue's rate limits allow (atomic across
        every process on this Redis). A claim lasts the task's dispatch deadline plus `grace_usec`;
        if the sender dies, the task is due again after it. Nothing is claimed while the queue
        is paused or disabled."""
        return Claimed.from_reply(self._run("claim", self.keys(queue_name), most, grace_usec))

    def run_task(self, queue_name: str, task_id: str, grace_usec: int = 5_000_000) -> Claimed:
        """Claim one task now, whatever its queue's state and rate limits (RunTask)."""
        return Claimed.from_reply(self._run("run_task", self.keys(queue_name), task_id, grace_usec))

    def finish(self, queue_name: str, claim: Claim, status: int | None, retry_at_usec: int | None,
               latency_secs: float = 0.0) -> bool:
        """Record an attempt's outcome: `status` the answer's HTTP status (None: no answer);
        `retry_at_usec` when to try again, or None when the task is done (success, or no retries
        left): it goes (kept among the finished tasks), and its id stays taken like a deleted task's.
        `latency_secs`: how long the attempt took. The dispatch is counted in any case; False when
        the claim was lost (the task was deleted, or run again) and nothing else was recorded."""
        outcome = "done" if retry_at_usec is None else "retry"
        bucket = bisect.bisect_left(LATENCY_BUCKETS, latency_secs)
        reply = self._call("finish", self.keys(queue_name), claim.task_id, claim.until_usec,
                           -1 if status is None else status, outcome, retry_at_usec or 0, self._tombstone_usec,
                           int(latency_secs * 1e6), bucket, self._finished_usec, FINISHED_KEPT)
        return int(reply[0]) == Code.OK

    def finished_tasks(self, queue_name: str, offset: int = 0, limit: int = 100) -> tuple:
        """([FinishedTask] newest first, how many are kept) of the last `finished_secs`."""
        keys = self.keys(queue_name)
        since = self.clock.now_usec() - self._finished_usec
        ids = self._redis.zrevrangebyscore(keys.finished, "+inf", since, start=offset, num=limit)
        total = int(self._redis.zcount(keys.finished, since, "+inf"))
        records = self._redis.hmget(keys.finished_tasks, ids) if ids else []
        return [FinishedTask.from_json(r) for r in records if r], total

    def finished_task(self, queue_name: str, task_id: str) -> FinishedTask | None:
        """A task finished within the last `finished_secs`, or None."""
        keys = self.keys(queue_name)
        score = self._redis.zscore(keys.finished, task_id)
        if score is None or score < self.clock.now_usec() - self._finished_usec:
            return None
        record = self._redis.hget(keys.finished_tasks, task_id)
        return FinishedTask.from_json(record) if record else None

    def attempt_log(self, queue_name: str, task_id: str) -> list:
        """A live task's last attempts: [(dispatch_usec, response_usec, status or None)]."""
        return parse_log(self._redis.hget(self.keys(queue_name).log, task_id))

    def stats(self, queue_name: str) -> dict:
        """The queue's counters since it was made: {"d2xx": n, ..., "retries", "succeeded",
        "dropped", "lsum" (µs), "l<bucket index>"} (absent: 0)."""
        raw = self._redis.hgetall(self.keys(queue_name).stats)
        return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}

    def clear_tombstones(self, queue_name: str | None) -> int:
        """Free the ids of tasks deleted or done recently, of one queue or of all (a reset for tests)."""
        names = [queue_name] if queue_name else self.queue_names()
        freed = 0
        for name in names:
            key = self.keys(name).tombstones
            freed += int(self._redis.zcard(key))
            self._redis.delete(key)
        return freed

    def queue_keys(self) -> list:
        """The keys of every queue, in name order."""
        return [QueueKeys.from_entry(e) for e in self._redis.zrange(REGISTRY, 0, -1)]

    def queue_names(self) -> list:
        """Every queue's resource name, for the dispatcher."""
        return [keys.name for keys in self.queue_keys()]

    def counts(self, name: str) -> Counts:
        """A queue's tasks by state, in one round trip."""
        keys = self.keys(name)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(keys.due)
        pipe.scard(keys.retrying)
        pipe.zcard(keys.inflight)
        pipe.zcount(keys.finished, self.clock.now_usec() - self._finished_usec, "+inf")
        due, retrying, running, finished = (int(n) for n in pipe.execute())
        return Counts(due - retrying, retrying, running, finished)

    def wakes(self):
        """A pub/sub connection that hears when tasks may come due sooner than a dispatcher knew:
        `wake_of(message)` reads each."""
        listener = self._redis.pubsub(ignore_subscribe_messages=True)
        listener.subscribe(WAKE_CHANNEL, CLOCK_CHANNEL)
        return listener

    @staticmethod
    def wake_of(message) -> tuple:
        """(queue name, due µs) of a wake message; (None, 0) when the clock moved (every queue)."""
        channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        data = message["data"].decode() if isinstance(message["data"], bytes) else str(message["data"])
        if channel != WAKE_CHANNEL:
            return None, 0
        entry, _, due = data.rpartition(" ")
        return QueueKeys.from_entry(entry).name, int(due)

    def pending(self, name: str, within_usec: int) -> int:
        """Tasks due within `within_usec` from now, or being sent (what keeps a queue from idle)."""
        keys = self.keys(name)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcount(keys.due, "-inf", self.clock.now_usec() + within_usec)
        pipe.zcard(keys.inflight)
        return sum(int(n) for n in pipe.execute())

    def reset(self) -> int:
        """Forget every queue, task, tombstone and deleted name of this store (a reset for tests);
        the number of queues there were."""
        queues = int(self._redis.zcard(REGISTRY))
        delete_matching(self._redis, EVERY_QUEUE_KEY, REGISTRY)
        return queues

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
            reply = self._call("get", keys)
            if int(reply[0]) == Code.OK:
                out.append(StoredQueue.from_reply(reply))
        return out
