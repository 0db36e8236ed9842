"""A small App Engine style Flask app that runs deferred work, as The Blue Alliance's defer handler
and Google's `deferred.py` do. Run it with `flask --app app run --port 8081` (or
`gunicorn -b 127.0.0.1:8081 app:app`) from this folder.

`/_ah/queue/deferred` unpickles `(callable, args, kwargs)` from the request body and calls it.
A request without `X-AppEngine-TaskName` is refused with 403. On App Engine that header cannot come
from outside (App Engine strips it), so it proves the request came from the task queue. Locally
nothing strips it, and the body is a pickle, which runs code when loaded: keep this app on
localhost.

A function that raises `PermanentTaskFailure` is dropped (200, logged); any other exception
answers 500, so the task is retried on its queue's schedule.
"""

from __future__ import annotations

import logging
import pickle

from flask import Flask, g, request

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
log = logging.getLogger("deferred")

app = Flask(__name__)


#: The headers Cloud Tasks adds to an App Engine task's request, as Google spells them.
TASK_HEADERS = ("QueueName", "TaskName", "TaskRetryCount", "TaskExecutionCount", "TaskETA",
                "TaskPreviousResponse", "TaskRetryReason", "FailFast")


class PermanentTaskFailure(Exception):
    """Raised by a deferred function that must not be retried: the task is dropped."""


def current_task() -> dict:
    """The X-AppEngine-* headers of the task being run, without the prefix: QueueName, TaskName,
    TaskRetryCount, TaskExecutionCount, TaskETA (and TaskPreviousResponse, TaskRetryReason on
    retries). Empty outside a task."""
    return dict(g.get("task_headers", {}))


@app.post("/_ah/queue/deferred")
def deferred():
    if "X-AppEngine-TaskName" not in request.headers:
        log.error("refused a request without X-AppEngine-TaskName: it did not come from the task queue")
        return "Forbidden: not a task queue request\n", 403
    g.task_headers = {name: request.headers["X-AppEngine-" + name] for name in TASK_HEADERS
                      if "X-AppEngine-" + name in request.headers}
    log.info("task %s of queue %s: retry %s, execution %s, ETA %s; X-AppEngine-* %s",
             g.task_headers["TaskName"], g.task_headers.get("QueueName"), g.task_headers.get("TaskRetryCount"),
             g.task_headers.get("TaskExecutionCount"), g.task_headers.get("TaskETA"),
             {k: v for k, v in request.headers.items() if k.lower().startswith("x-appengine-")})
    try:
        try:
            func, args, kwargs = pickle.loads(request.get_data())
        except Exception as exc:  # noqa: BLE001 - a payload that cannot load never will
            raise PermanentTaskFailure(f"cannot unpickle the task: {exc!r}") from exc
        func(*args, **kwargs)
    except PermanentTaskFailure:
        log.exception("permanent failure: the task is dropped")
        return "", 200
    except Exception:  # noqa: BLE001 - any other failure is retried
        log.exception("the deferred function failed: the task will be retried")
        return "", 500
    return "", 200


@app.post("/tasks/welcome")
def welcome():
    """The target of producer.py's HTTP task: a JSON body, X-CloudTasks-* headers."""
    if "X-CloudTasks-TaskName" not in request.headers:
        return "Forbidden: not a task queue request\n", 403
    body = request.get_json(silent=True) or {}
    log.info("welcome %s (HTTP task %s of queue %s, retry %s)", body.get("user"),
             request.headers["X-CloudTasks-TaskName"], request.headers.get("X-CloudTasks-QueueName"),
             request.headers.get("X-CloudTasks-TaskRetryCount"))
    return "", 200
