"""Functions the example defers. A deferred function is pickled by reference (module and name), so
it must be importable, under the same name, by the producer and by the app that runs it."""

from __future__ import annotations

import json
import logging

from app import PermanentTaskFailure, current_task

log = logging.getLogger("jobs")


def write_note(path: str, text: str) -> None:
    """Write `text` and the task's X-AppEngine-* headers to `path`, as one JSON object."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"text": text, "task": current_task()}, f)
    log.info("wrote %s", path)


def fail_first(path: str, failures: int) -> None:
    """Append the task's headers to `path` (one JSON line per attempt), and fail the first
    `failures` attempts, so the task is retried."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(current_task()) + "\n")
    with open(path, encoding="utf-8") as f:
        attempts = sum(1 for _ in f)
    if attempts <= failures:
        raise RuntimeError(f"attempt {attempts} of {path} fails on purpose")


def give_up(path: str) -> None:
    """Record the attempt in `path`, then fail for good: the task is dropped, not retried."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(current_task()) + "\n")
    raise PermanentTaskFailure("nothing to do for " + path)
