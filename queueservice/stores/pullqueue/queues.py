"""Which queues exist: every name (default), or the pull queues of an App Engine queue.yaml."""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, field

import yaml

from queueservice.errors import InvalidArgument, NotFound, StartupError

log = logging.getLogger("queueservice")


class QueueConfigError(StartupError):
    """queue.yaml cannot be used; stops start-up with one line naming the file, the entry and the fix."""


@dataclass(frozen=True)
class QueueConfig:
    name: str
    mode: str = "pull"
    max_leases: int = 0
    admin_emails: tuple = ()
    consumer_emails: tuple = ()
    producer_emails: tuple = ()
    #: The queue's entry as queue.yaml gives it (push queues are mapped to Cloud Tasks from it).
    entry: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def acl(self) -> dict:
        return {"adminEmails": list(self.admin_emails), "consumerEmails": list(self.consumer_emails),
                "producerEmails": list(self.producer_emails)}


#: App Engine's rule for queue names.
QUEUE_NAME = re.compile(r"[a-zA-Z0-9-]{1,100}")
#: The first emulator also took underscores (the render service names queues like `test_queue`).
QUEUE_NAME_WITH_UNDERSCORES = re.compile(r"[a-zA-Z0-9_-]{1,100}")
#: App Engine's queue.yaml keys; others are refused, since a misspelled key would be silently ignored.
TOP_KEYS = ("queue", "total_storage_limit")
QUEUE_KEYS = ("name", "mode", "rate", "bucket_size", "max_concurrent_requests", "retry_parameters",
              "target", "acl")
RETRY_KEYS = ("task_retry_limit", "task_age_limit", "min_backoff_seconds", "max_backoff_seconds",
              "max_doublings")
ACL_KEYS = ("user_email", "writer_email")
MODES = ("push", "pull")


def _unknown(keys, known, where: str, path) -> None:
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"the keys are {', '.join(known)}"
            raise QueueConfigError(f"QUEUE_CONFIG {path}: {where}: unknown key {key!r}; {fix}")


def _queue_entry(entry, index: int, path, pattern=QUEUE_NAME) -> QueueConfig:
    """One `queue:` item of queue.yaml, checked; QueueConfigError names what is wrong and the fix."""
    where = f"queue entry {index}"
    if not isinstance(entry, dict) or not entry.get("name"):
        raise QueueConfigError(f"QUEUE_CONFIG {path}: {where}: every queue needs a name "
                               "(write `- name: my-queue` and `mode: pull`)")
    name = str(entry["name"])
    where = f"queue {name!r} (entry {index})"
    if not pattern.fullmatch(name):
        allowed = "letters, digits, '-' and '_'" if pattern is QUEUE_NAME_WITH_UNDERSCORES else "letters, digits and '-'"
        raise QueueConfigError(f"QUEUE_CONFIG {path}: {where}: the name breaks the rule "
                               f"{pattern.pattern}; use {allowed}")
    _unknown(entry, QUEUE_KEYS, where, path)
    mode = str(entry.get("mode", "push"))
    if mode not in MODES:
        close = difflib.get_close_matches(mode, MODES, n=1)
        raise QueueConfigError(f"QUEUE_CONFIG {path}: {where}: mode {mode!r} is neither pull nor push; "
                               f"write `mode: {close[0] if close else 'pull'}`")
    retry = entry.get("retry_parameters") or {}
    acl = entry.get("acl") or []
    if not isinstance(retry, dict) or not isinstance(acl, list):
        raise QueueConfigError(f"QUEUE_CONFIG {path}: {where}: retry_parameters must be a mapping "
                               "and acl a list")
    _unknown(retry, RETRY_KEYS, where + " retry_parameters", path)
    for item in acl:
        if not isinstance(item, dict):
            raise QueueConfigError(f"QUEUE_CONFIG {path}: {where}: each acl item must be "
                                   "`- user_email: ...` or `- writer_email: ...`")
        _unknown(item, ACL_KEYS, where + " acl", path)
    limit = retry.get("task_retry_limit") or 0
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise QueueConfigError(f"QUEUE_CONFIG {path}: {where}: task_retry_limit must be a whole "
                               f"number, not {limit!r}")
    users = tuple(a["user_email"] for a in acl if "user_email" in a)
    writers = tuple(a["writer_email"] for a in acl if "writer_email" in a)
    return QueueConfig(name=name, mode=mode, max_leases=limit, consumer_emails=users, producer_emails=writers,
                       entry=dict(entry))


#: App Engine allowed at most a few hundred queues; a file far larger than that is not a queue.yaml.
MAX_QUEUE_CONFIG_BYTES = 1024 * 1024


def load_queue_yaml(path: str, pattern=QUEUE_NAME) -> dict:
    """{name: QueueConfig} of an App Engine queue.yaml, fully checked. Raises QueueConfigError."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_QUEUE_CONFIG_BYTES + 1)
        if len(raw) > MAX_QUEUE_CONFIG_BYTES:
            raise QueueConfigError(f"QUEUE_CONFIG {path}: the file is over {MAX_QUEUE_CONFIG_BYTES // 1024} KiB; "
                                   "point QUEUE_CONFIG at an App Engine queue.yaml")
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise QueueConfigError(f"QUEUE_CONFIG {path}: not UTF-8 text (byte {exc.start}); save the file as "
                               "UTF-8") from None
    except OSError as exc:
        raise QueueConfigError(f"QUEUE_CONFIG {path}: cannot be read ({exc.strerror}); "
                               "point QUEUE_CONFIG at an App Engine queue.yaml, or unset it") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise QueueConfigError(f"QUEUE_CONFIG {path}: not valid YAML{at} ({problem}); fix the syntax") from None
    if data is None:
        raise QueueConfigError(f"QUEUE_CONFIG {path}: the file is empty; list the queues under `queue:` "
                               "(`- name: my-queue` with `mode: pull`)")
    if not isinstance(data, dict):
        raise QueueConfigError(f"QUEUE_CONFIG {path}: expected a mapping with a 'queue' list, "
                               f"not a {type(data).__name__}; start the file with `queue:`")
    _unknown(data, TOP_KEYS, "top level", path)
    entries = data.get("queue")
    if not isinstance(entries, list) or not entries:
        raise QueueConfigError(f"QUEUE_CONFIG {path}: 'queue' must be a list of at least one queue "
                               "(`- name: my-queue` with `mode: pull`)")
    queues = {}
    for index, entry in enumerate(entries, 1):
        queue = _queue_entry(entry, index, path, pattern)
        if queue.name in queues:
            raise QueueConfigError(f"QUEUE_CONFIG {path}: queue {queue.name!r} (entry {index}) is defined "
                                   "twice; remove or rename one")
        queues[queue.name] = queue
    pull = sum(1 for q in queues.values() if q.mode == "pull")
    log.info("QUEUE_CONFIG %s: loaded %d queues (%d pull, %d push; pull queues are served by TaskQueue, push queues by Cloud Tasks)",
             path, len(queues), pull, len(queues) - pull)
    return queues


@dataclass
class QueueCatalog:
    """Resolves a queue name to its configuration, or refuses it as Google did."""

    configured: dict | None = None
    default_max_leases: int = 0
    source: str | None = field(default=None)
    underscores: bool = False

    @property
    def name_rule(self) -> str:
        return ("1-100 letters, digits, hyphens and underscores" if self.underscores
                else "1-100 letters, digits and hyphens")

    def valid_name(self, name: str) -> bool:
        pattern = QUEUE_NAME_WITH_UNDERSCORES if self.underscores else QUEUE_NAME
        return pattern.fullmatch(name) is not None

    @classmethod
    def from_file(cls, path: str | None, default_max_leases: int = 0,
                  underscores: bool = False) -> "QueueCatalog":
        """`underscores` admits `_` in queue names, as the first emulator did (TASKQUEUE_COMPAT=render)."""
        if not path:
            return cls(configured=None, default_max_leases=default_max_leases, underscores=underscores)
        queues = load_queue_yaml(path, QUEUE_NAME_WITH_UNDERSCORES if underscores else QUEUE_NAME)
        return cls(configured=queues, source=path, underscores=underscores)

    def push_queue(self, name: str) -> QueueConfig | None:
        """The push queue of that name in QUEUE_CONFIG, if any (Cloud Tasks serves those)."""
        queue = (self.configured or {}).get(name)
        return queue if queue is not None and queue.mode == "push" else None

    def resolve(self, name: str) -> QueueConfig:
        """The queue's configuration. Raises NotFound (unknown) or InvalidArgument (push queue)."""
        if self.configured is None:
            return QueueConfig(name=name, max_leases=self.default_max_leases)
        queue = self.configured.get(name)
        if queue is None:
            raise NotFound(f"Queue {name} does not exist (it is not in {self.source})")
        if queue.mode != "pull":
            raise InvalidArgument(f"Queue {name} is a push queue; this API serves pull queues only")
        return queue
