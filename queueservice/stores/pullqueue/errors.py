"""The pull-queue store's own errors: domain names over the canonical errors the APIs render."""

from __future__ import annotations

from queueservice.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound


class TaskNotFound(NotFound):
    """No task of that name in the queue."""


class TaskNameTaken(Conflict):
    """A live or dead-lettered task already has the name."""


class TaskNameTombstoned(Conflict):
    """A task of that name was deleted within TASK_TOMBSTONE_SECS."""


class TaskDeletedAlready(InvalidArgument):
    """A repeated delete while the name is tombstoned (Google answered 400, not 404)."""


class LeaseExpired(FailedPrecondition):
    """The caller's lease has run out, or the task is not leased."""


class LeaseHeldByAnother(FailedPrecondition):
    """The task was leased again since the caller's lease."""


class NotADeadLetter(FailedPrecondition):
    """Requeue of a task that is not a dead letter."""
