"""Which queues exist: every name (default), or the pull queues of an App Engine queue.yaml."""

from __future__ import annotations

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


@dataclass
class QueueCatalog:
    """Resolves a queue name to its configuration, or refuses it as Google did."""

    configured: dict | None = None
    default_max_leases: int = 0
    source: str | None = field(default=None)

    @classmethod
    def from_file(cls, path: str | None, default_max_leases: int = 0) -> "QueueCatalog":
        if not path:
            return cls(configured=None, default_max_leases=default_max_leases)
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise QueueConfigError(f"QUEUE_CONFIG {path}: {exc}") from exc
        queues = {}
        for entry in data.get("queue") or []:
            if not isinstance(entry, dict) or not entry.get("name"):
                raise QueueConfigError(f"QUEUE_CONFIG {path}: every queue needs a name")
            retry = entry.get("retry_parameters") or {}
            acl = entry.get("acl") or []
            users = tuple(a["user_email"] for a in acl if isinstance(a, dict) and "user_email" in a)
            writers = tuple(a["writer_email"] for a in acl if isinstance(a, dict) and "writer_email" in a)
            name = str(entry["name"])
            queues[name] = QueueConfig(name=name, mode=str(entry.get("mode", "push")),
                                       max_leases=int(retry.get("task_retry_limit") or 0),
                                       consumer_emails=users, producer_emails=writers)
        return cls(configured=queues, source=path)

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
