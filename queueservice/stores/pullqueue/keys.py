"""Every Redis key of the pull-queue store, built here and nowhere else.

All keys of one queue share the hash tag `{<project>/<queue>}`, so one queue lives in one
Redis Cluster slot and its Lua scripts may touch all of them. The scripts derive tag
index keys from `base` with the same rule as `QueueKeys.tag` (see lua/_lib.lua).

`parse_registry_entry` reads back what `REGISTRY` holds. The task keys carry the data version in
their names (`v2:`); `DATA_VERSION` records which layout the store holds (TaskStore.check_layout).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Set of "<project>/<queue>" for every queue that ever held a task (for listings).
REGISTRY = "qs:queues"
#: SCAN pattern matching every key of every queue (not the registry, nor the clock).
EVERY_QUEUE_KEY = "qs:{*"
#: SCAN pattern matching the tombstones key of every queue.
TOMBSTONES_PATTERN = "qs:{*}:tombstones"
#: String: the layout of the pull-queue keys ("2"; absent before version 2 and on a new store).
DATA_VERSION = "qs:version"
#: SCAN pattern matching the task hash of every queue still in the first layout.
FIRST_LAYOUT_PATTERN = "qs:{*}:tasks"


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
        """Hash: task name -> record: enqueue time (8 digits), lease time (9), `s`|`u` (the base64
        alphabet; upper case when the payload is in `payloads`), retry count, `:`, tag length, `:`,
        tag, then the payload unless it is longer than INLINE_PAYLOAD_BYTES (lua/_lib.lua packs it)."""
        return self.base + "v2:tasks"

    @property
    def payloads(self) -> str:
        """Hash: task name -> payload, for payloads longer than INLINE_PAYLOAD_BYTES only."""
        return self.base + "v2:payloads"

    @property
    def untagged(self) -> str:
        """Sorted set of live untagged tasks by the µs time they are next available (ETA or lease end)."""
        return self.base + "v2:notag"

    @property
    def tagged(self) -> str:
        """Sorted set of live tagged tasks, likewise. With `untagged`: every live task, once."""
        return self.base + "v2:tagged"

    @property
    def enqueued(self) -> str:
        """Sorted set of live tasks by enqueue time (µs)."""
        return self.base + "v2:enq"

    @property
    def dead(self) -> str:
        """Sorted set of dead-lettered tasks by the µs time they were set aside."""
        return self.base + "v2:dead"

    @property
    def stats(self) -> str:
        """Hash of lease counters: per second and per minute ring buckets."""
        return self.base + "stats"

    @property
    def leased(self) -> str:
        """Sorted set of tasks whose lease was not handed back, by lease end (µs)."""
        return self.base + "v2:leased"

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
        return [self.tasks, self.payloads, self.untagged, self.tagged, self.enqueued, self.dead, self.stats,
                self.leased, self.history, self.tombstones]

    def tag(self, tag: bytes) -> str:
        """Sorted set of the live tasks carrying `tag` by availability; for b"" (no tag), `untagged`."""
        return self.base + "v2:tag:" + tag.decode("utf-8") if tag else self.untagged

    def first_layout(self) -> dict:
        """The keys of the first layout (data version 1) that `migrate_v1.lua` empties."""
        return {name: self.base + name for name in ("tasks", "payloads", "eta", "enq", "dead", "leased", "notag")}


#: Digits of the encoded times in members and records: printable ASCII '!' (33) to '~' (126),
#: in byte order, so fixed-width encodings sort as the numbers do.
TIME_DIGITS = 94
#: Payloads up to this many bytes live in the task's record; longer ones in the payloads hash,
#: so that reading a record (to list, browse or delete) never copies a large payload.
INLINE_PAYLOAD_BYTES = 1024


def encode_time(usec: int, width: int) -> str:
    """`usec` in `width` base-94 digits (8 hold µs times until 2163, 9 any time up to 2**53)."""
    digits = []
    for _ in range(width):
        usec, digit = divmod(usec, TIME_DIGITS)
        digits.append(chr(33 + digit))
    return "".join(reversed(digits))


def decode_time(text: str) -> int:
    value = 0
    for char in text:
        value = value * TIME_DIGITS + ord(char) - 33
    return value


def member(enqueue_usec: int, name: str) -> str:
    """The sorted-set member of a task: its enqueue time in 8 digits, then its name (ties go FIFO).

    Eight digits rather than sixteen decimal ones: with a generated name (22 characters) the member
    has 30 bytes, the most Redis keeps in a 32-byte allocation (a member of 31 to 44 bytes costs
    16 bytes more in every sorted set).
    """
    return encode_time(enqueue_usec, 8) + name


def registry_entry(keys: QueueKeys) -> str:
    return f"{keys.project}/{keys.queue}"


def parse_registry_entry(entry: bytes | str) -> QueueKeys:
    text = entry.decode("utf-8") if isinstance(entry, bytes) else entry
    project, _, queue = text.rpartition("/")
    return QueueKeys(project, queue)
