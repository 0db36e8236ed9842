"""Every Redis key of the pull-queue store, built here and nowhere else.

All keys of one queue share the hash tag `{<project>/<queue>}`, so one queue lives in one
Redis Cluster slot and its Lua scripts may touch all of them. The scripts derive tag
index keys from `base` with the same rule as `QueueKeys.tag` (see lua/_lib.lua).

`parse_registry_entry` reads back what `REGISTRY` holds.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Set of "<project>/<queue>" for every queue that ever held a task (for listings).
REGISTRY = "qs:queues"
#: SCAN pattern matching every key of every queue (not the registry, nor the clock).
EVERY_QUEUE_KEY = "qs:{*"
#: SCAN pattern matching the tombstones key of every queue.
TOMBSTONES_PATTERN = "qs:{*}:tombstones"


@dataclass(frozen=True)
class QueueKeys:
    """The keys of one queue. `project` is already normalised (no `s~` prefix)."""

    project: str
    queue: str

    @classmethod
    def from_key(cls, key: bytes | str) -> "QueueKeys":
        """The queue a key of this layout belongs to (`qs:{<project>/<queue>}:...`)."""
        text = key.decode("utf-8") if isinstance(key, bytes) else key
        inner = text[text.index("{") + 1:text.index("}:")]
        return parse_registry_entry(inner)

    @property
    def base(self) -> str:
        return f"qs:{{{self.project}/{self.queue}}}:"

    @property
    def tasks(self) -> str:
        """Hash: task name -> "enqueue_usec,lease_usec,retry_count,alphabet,tag"."""
        return self.base + "tasks"

    @property
    def payloads(self) -> str:
        """Hash: task name -> payload bytes."""
        return self.base + "payloads"

    @property
    def eta(self) -> str:
        """Sorted set of live tasks by the µs time they are next available (ETA or lease end)."""
        return self.base + "eta"

    @property
    def enqueued(self) -> str:
        """Sorted set of live tasks by enqueue time (µs)."""
        return self.base + "enq"

    @property
    def dead(self) -> str:
        """Sorted set of dead-lettered tasks by the µs time they were set aside."""
        return self.base + "dead"

    @property
    def stats(self) -> str:
        """Hash of lease counters: per second and per minute ring buckets."""
        return self.base + "stats"

    @property
    def leased(self) -> str:
        """Sorted set of tasks whose lease was not handed back, by lease end (µs)."""
        return self.base + "leased"

    @property
    def history(self) -> str:
        """Stream of task transitions, capped (see HISTORY_MAX_EVENTS)."""
        return self.base + "history"

    @property
    def tombstones(self) -> str:
        """Sorted set of recently deleted task names, by the µs time their name is free again."""
        return self.base + "tombstones"

    def all(self) -> list:
        """Every fixed key of the queue, in the order the Lua scripts expect as KEYS."""
        return [self.tasks, self.payloads, self.eta, self.enqueued, self.dead, self.stats,
                self.leased, self.history, self.tombstones]

    def tag(self, tag: bytes) -> str:
        """Sorted set like `eta`, for the tasks carrying `tag` (b"" = no tag)."""
        return self.base + ("tag:" + tag.decode("utf-8") if tag else "notag")


def member(enqueue_usec: int, name: str) -> str:
    """The sorted-set member of a task: 16-digit enqueue time, then name (ties go FIFO)."""
    return f"{enqueue_usec:016d}{name}"


def registry_entry(keys: QueueKeys) -> str:
    return f"{keys.project}/{keys.queue}"


def parse_registry_entry(entry: bytes | str) -> QueueKeys:
    text = entry.decode("utf-8") if isinstance(entry, bytes) else entry
    project, _, queue = text.rpartition("/")
    return QueueKeys(project, queue)
