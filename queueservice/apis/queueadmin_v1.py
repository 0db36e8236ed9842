"""The admin API of this server (JSON): the operator operations over HTTP. Queues of every kind
with their counts, tasks by state, dead letters, history, purge, release, pause and resume, run
now, tombstones; and test controls: the clock, waiting until a queue is idle, a reset of everything.

The dashboard calls the same operations (`queueservice.operator.operations`); the module hands
the engine the dashboard's pages and the queue metrics of the operator layer.
"""

from __future__ import annotations

from queueservice.operator.operations import Operations
from queueservice.redis_helpers.clock import Clock

#: Fields the document types int64 are answered as JSON strings, Google's convention.
INT64_AS_STRINGS = True


def create_backend(services) -> Operations:
    """The operations over every kind of queue the stores registered by the other APIs offer."""
    return Operations(services.kinds, clock=services.get("clock", lambda s: Clock(s.redis)))


def web_pages(ops: Operations):
    """The dashboard, served by the same process at /dashboard."""
    from queueservice.operator.dashboard import blueprint

    return blueprint(ops)


def metrics_collector(ops: Operations):
    """Tasks by state per queue and API, read from the stores when Prometheus scrapes."""
    from queueservice.operator.metrics import QueueCollector

    return QueueCollector(ops)


def queues_list(ops, offset, limit):
    return ops.queues(offset, limit)


def queues_get(ops, project, queue, api):
    return ops.queue(project, queue, api)


def queues_purge(ops, project, queue, limit, api):
    return ops.purge_step(project, queue, limit, api)


def queues_requeue_dead(ops, project, queue, limit, api):
    return ops.requeue_dead(project, queue, limit, api)


def queues_history(ops, project, queue, limit, api, task=None):
    return ops.history(project, queue, task, limit, api)


def queues_clear_tombstones(ops, project, queue, api):
    return {"cleared": ops.clear_tombstones(project, queue, api)}


def tasks_list(ops, project, queue, state, offset, limit, api, tag=None):
    return ops.tasks(project, queue, state, offset, limit, tag, api)


def tasks_get(ops, project, queue, task, api):
    return ops.task(project, queue, task, api)


def tasks_delete(ops, project, queue, task, api):
    ops.act(project, queue, "delete", task, api)


def tasks_release(ops, project, queue, task, api):
    return ops.act(project, queue, "release", task, api)


def tasks_requeue(ops, project, queue, task, api):
    return ops.act(project, queue, "requeue", task, api)


def tombstones_clear(ops):
    return {"cleared": ops.clear_tombstones()}


def clock_get(ops):
    return ops.clock_state()


def clock_advance(ops, seconds):
    ops.clock.advance(round(seconds * 1_000_000))
    return ops.clock_state()


def clock_reset(ops):
    ops.clock.reset()
    return ops.clock_state()


def queues_pause(ops, project, queue, api):
    return {"message": ops.act_on_queue(project, queue, "pause", api), "queue": ops.queue(project, queue, api)}


def queues_resume(ops, project, queue, api):
    return {"message": ops.act_on_queue(project, queue, "resume", api), "queue": ops.queue(project, queue, api)}


def queues_wait_idle(ops, project, queue, api, timeout_seconds, within_seconds):
    return ops.wait_idle(project, queue, timeout_seconds, within_seconds, api)


def tasks_run(ops, project, queue, task, api):
    ops.act(project, queue, "run", task, api)


def reset_all(ops):
    return ops.reset()
