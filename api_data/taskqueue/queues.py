"""Which queues exist: every name (default), or the pull queues of an App Engine queue.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from queueservice.errors import InvalidArgument, NotFound


class QueueConfigError(Exception):
    """queue.yaml could not be read; stops start-up."""


@dataclass(frozen=True)
class QueueConfig:
    name: str
    mode: str = "pull"
    max_leases: int = 0
    admin_emails: tuple = ()
    consumer_emails: tuple = ()
    producer_emails: tuple = ()

    @property
    def acl(self) -> dict:
        return {"adminEmails": list(self.admin_emails), "consumerEmails": list(self.consumer_emails),
                "producerEmails": list(self.producer_emails)}


#: App Engine's rule for queue names.
QUEUE_NAME = re.compile(r"[a-zA-Z0-9-]{1,100}")
#: The first emulator also took underscores (the render service names queues like `test_queue`).
QUEUE_NAME_WITH_UNDERSCORES = re.compile(r"[a-zA-Z0-9_-]{1,100}")


def _queue_entry(entry, path, pattern=QUEUE_NAME) -> QueueConfig:
    """One `queue:` item of queue.yaml, checked; QueueConfigError names what is wrong."""
    if not isinstance(entry, dict) or not entry.get("name"):
        raise QueueConfigError(f"QUEUE_CONFIG {path}: every queue needs a name")
    name = str(entry["name"])
    if not pattern.fullmatch(name):
        raise QueueConfigError(f"QUEUE_CONFIG {path}: queue name {name!r} breaks the rule "
                               f"{pattern.pattern}")
    retry = entry.get("retry_parameters") or {}
    acl = entry.get("acl") or []
    if not isinstance(retry, dict) or not isinstance(acl, list):
        raise QueueConfigError(f"QUEUE_CONFIG {path}: queue {name}: retry_parameters must be a mapping "
                               "and acl a list")
    limit = retry.get("task_retry_limit") or 0
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise QueueConfigError(f"QUEUE_CONFIG {path}: queue {name}: task_retry_limit must be a whole "
                               f"number, not {limit!r}")
    users = tuple(a["user_email"] for a in acl if isinstance(a, dict) and "user_email" in a)
    writers = tuple(a["writer_email"] for a in acl if isinstance(a, dict) and "writer_email" in a)
    return QueueConfig(name=name, mode=str(entry.get("mode", "push")), max_leases=limit,
                       consumer_emails=users, producer_emails=writers)


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
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise QueueConfigError(f"QUEUE_CONFIG {path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("queue") or [], list):
            raise QueueConfigError(f"QUEUE_CONFIG {path}: expected a mapping with a 'queue' list")
        queues = {}
        for entry in data.get("queue") or []:
            queue = _queue_entry(entry, path, QUEUE_NAME_WITH_UNDERSCORES if underscores else QUEUE_NAME)
            queues[queue.name] = queue
        return cls(configured=queues, source=path, underscores=underscores)

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
