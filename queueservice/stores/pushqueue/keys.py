"""Every Redis key of the push-queue store, built here and nowhere else.

All keys of one queue share the hash tag `{<project>/<location>/<queue>}`, so a queue lives in one
Redis Cluster slot and its Lua scripts may touch all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Sorted set (all scores 0, so ordered by member) of "<project>/<location>/<queue>": listings.
REGISTRY = "ct:queues"
#: SCAN pattern matching every key of every queue (not the registry, nor the OIDC key).
EVERY_QUEUE_KEY = "ct:{*"
#: Pub/sub channel: "<project>/<location>/<queue> <due_usec>" when a task may have become due
#: sooner than dispatchers knew (created, resumed, changed, a slot freed). lua/_lib.lua publishes it.
WAKE_CHANNEL = "ct:wake"


@dataclass(frozen=True)
class QueueKeys:
    project: str
    location: str
    queue: str

    @property
    def base(self) -> str:
        return f"ct:{{{self.project}/{self.location}/{self.queue}}}:"

    @property
    def queue_hash(self) -> str:
        """Hash: config (the Queue as JSON), state, purge_usec, version, created_usec."""
        return self.base + "queue"

    @property
    def gone(self) -> str:
        """String, set (with an expiry) while a deleted queue's name may not be created again."""
        return self.base + "gone"

    @property
    def tasks(self) -> str:
        """Hash: task id -> the Task as JSON."""
        return self.base + "tasks"

    @property
    def due(self) -> str:
        """Sorted set: task id -> when it is next due to be sent (µs)."""
        return self.base + "due"

    @property
    def created(self) -> str:
        """Sorted set: task id -> when it was created (µs); listings and purge read it."""
        return self.base + "created"

    @property
    def tombstones(self) -> str:
        """Sorted set: id of a task deleted recently -> when its name is free again (µs)."""
        return self.base + "tombstones"

    @property
    def attempts(self) -> str:
        """Hash: task id -> "dispatch_count,response_count,first_dispatch_usec,last_schedule_usec,
        last_dispatch_usec,last_response_usec,last_status,deadline_usec" (status -1: no answer)."""
        return self.base + "attempts"

    @property
    def inflight(self) -> str:
        """Sorted set: id of a task being sent -> when its claim runs out (µs): then it is due again."""
        return self.base + "inflight"

    @property
    def bucket(self) -> str:
        """Hash of the queue's token bucket: tokens, at_usec."""
        return self.base + "bucket"

    @property
    def retrying(self) -> str:
        """Set: ids of due tasks that were sent before (waiting for a retry)."""
        return self.base + "retrying"

    @property
    def log(self) -> str:
        """Hash: task id -> its last attempts, "dispatch_usec,response_usec,status;..." (status -1: none)."""
        return self.base + "log"

    @property
    def finished(self) -> str:
        """Sorted set: id of a task that succeeded or was dropped -> when (µs), kept for a while."""
        return self.base + "finished"

    @property
    def finished_tasks(self) -> str:
        """Hash: id of a finished task -> {task, attempts, log, created, finished, outcome} as JSON."""
        return self.base + "finished_tasks"

    @property
    def stats(self) -> str:
        """Hash of counters since the queue was made: dispatches by answer class (d2xx ... dnone),
        retries, succeeded, dropped, and the dispatch latency histogram (l<bucket>, lsum µs)."""
        return self.base + "stats"

    def all(self) -> list:
        """Every key of the queue, in the order the Lua scripts expect as KEYS."""
        return [self.queue_hash, self.gone, self.tasks, self.due, self.created, self.tombstones,
                self.attempts, self.inflight, self.bucket, self.retrying, self.log, self.finished,
                self.finished_tasks, self.stats]

    @property
    def entry(self) -> str:
        """Its member of REGISTRY."""
        return f"{self.project}/{self.location}/{self.queue}"

    @property
    def name(self) -> str:
        """Its Cloud Tasks resource name."""
        return f"projects/{self.project}/locations/{self.location}/queues/{self.queue}"

    @classmethod
    def from_entry(cls, entry: bytes | str) -> "QueueKeys":
        text = entry.decode("utf-8") if isinstance(entry, bytes) else entry
        project, location, queue = text.rsplit("/", 2)
        return cls(project, location, queue)
