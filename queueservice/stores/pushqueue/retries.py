"""Cloud Tasks' retry schedule and stop rule, as Google documents them (guide section 3.4).

Durations are µs. `k` counts retries: the first retry (after the first failed attempt) is k = 1.
"""

from __future__ import annotations


def backoff_usec(k: int, min_backoff_usec: int, max_backoff_usec: int, max_doublings: int) -> int:
    """The wait before retry `k`: doubling from minBackoff `max_doublings` times, then growing by
    the last doubled step each retry, never above maxBackoff.

    Google's example, min 10 s, max 300 s, 3 doublings: 10, 20, 40, 80, 160, 240, 300, 300 s.
    """
    if k < 1:
        raise ValueError("retries are counted from 1")
    doublings = min(k - 1, max(0, max_doublings))
    linear_steps = max(0, k - 1 - max(0, max_doublings))
    wait = min_backoff_usec * 2 ** doublings + linear_steps * min_backoff_usec * 2 ** max(0, max_doublings)
    return min(max_backoff_usec, wait)


def may_retry(attempts: int, first_attempt_usec: int, now_usec: int, max_attempts: int,
              max_retry_duration_usec: int) -> bool:
    """Whether a task that failed `attempts` times may be tried again.

    Google stops only when *both* limits are reached; a limit of -1 or 0 (unlimited) counts as
    reached, so a queue with unlimited attempts and a one-hour duration stops after the hour.
    With both unlimited, a task is retried until its retention ends.
    """
    attempts_spent = max_attempts > 0 and attempts >= max_attempts
    duration_spent = max_retry_duration_usec > 0 and now_usec - first_attempt_usec >= max_retry_duration_usec
    attempts_unlimited = max_attempts in (-1, 0)
    duration_unlimited = max_retry_duration_usec <= 0
    if attempts_unlimited and duration_unlimited:
        return True
    return not ((attempts_spent or attempts_unlimited) and (duration_spent or duration_unlimited))
