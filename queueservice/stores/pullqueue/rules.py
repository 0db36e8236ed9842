"""Names of projects, queues and tasks, as App Engine allowed them; shared by the APIs on pull queues."""

from __future__ import annotations

import re
import secrets

from queueservice.errors import InvalidArgument

from queueservice.stores.pullqueue.queues import QueueCatalog, QueueConfig

MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_TAG_BYTES = 500

#: App Engine's partitions: one letter (s~ High Replication, e~ EU, p~, b~, ...) or dev~
#: (the development server). AppScale accepted any one character; Google's clients wrote these.
_PROJECT = re.compile(r"(?:(?:[A-Za-z]|dev)~)?([A-Za-z0-9][A-Za-z0-9.:_-]{0,99})")
_TASK = re.compile(r"[a-zA-Z0-9_-]{1,500}")


def shown(value: str) -> str:
    """A value short enough to quote in an error message."""
    return value if len(value) <= 64 else value[:61] + "..."


def project_id(project: str) -> str:
    """`s~app`, `p~app` (any one letter), `dev~app` and `app` are one project: the partition is dropped."""
    match = _PROJECT.fullmatch(project)
    if not match:
        raise InvalidArgument(f"Invalid project id '{shown(project)}'", location="project")
    return match.group(1)


def queue_config(queues: QueueCatalog, name: str, location: str = "taskqueue") -> QueueConfig:
    """Queue names follow the catalog's rule (App Engine's, or the render compatibility's);
    the catalog decides whether the queue exists."""
    if not queues.valid_name(name):
        raise InvalidArgument(f"Invalid queue name '{shown(name)}': use {queues.name_rule}",
                              location=location)
    return queues.resolve(name)


def task_name(name: str, location: str = "task") -> str:
    if not _TASK.fullmatch(name):
        raise InvalidArgument(f"Invalid task name '{shown(name)}': use 1-500 letters, digits, "
                              "hyphens and underscores", location=location)
    return name


def tag_bytes(tag: str | None, location: str = "tag") -> bytes:
    if tag is None:
        return b""
    data = tag.encode("utf-8", "surrogatepass")
    if len(data) > MAX_TAG_BYTES:
        raise InvalidArgument(f"Tag is {len(data)} bytes; at most {MAX_TAG_BYTES} are allowed",
                              location=location)
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("Tag is not valid Unicode", location=location) from None
    return data


def new_task_name() -> str:
    """A generated task name: 22 URL-safe characters (128 random bits), never starting with `-`
    or `_`, so that it can be passed to command-line tools without being taken for an option."""
    while True:
        name = secrets.token_urlsafe(16)
        if name[0].isalnum():
            return name
