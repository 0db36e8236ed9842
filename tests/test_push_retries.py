"""Cloud Tasks' retry schedule and stop rule (guide section 3.4; conformance 35, 36 and the seed queue)."""

from __future__ import annotations

import pytest

from queueservice.stores.pushqueue.retries import backoff_usec, may_retry

S = 1_000_000


def test_googles_documented_example_schedule():
    waits = [backoff_usec(k, 10 * S, 300 * S, 3) // S for k in range(1, 9)]
    assert waits == [10, 20, 40, 80, 160, 240, 300, 300]


def test_the_seed_queue_retries_every_10_20_then_30_seconds():
    assert [backoff_usec(k, 10 * S, 30 * S, 16) // S for k in range(1, 6)] == [10, 20, 30, 30, 30]


def test_no_doublings_is_a_linear_schedule():
    assert [backoff_usec(k, 2 * S, 100 * S, 0) // S for k in range(1, 5)] == [2, 4, 6, 8]


def test_retries_count_from_one():
    with pytest.raises(ValueError):
        backoff_usec(0, S, S, 1)


@pytest.mark.parametrize("attempts, elapsed_s, max_attempts, max_duration_s, expected", [
    (2, 10, 3, 0, True),        # 3 attempts, no duration limit: one more
    (3, 10, 3, 0, False),       # attempts spent, duration unlimited counts as spent
    (3, 10, 3, 3600, True),     # both must be spent: the hour is not over
    (3, 3600, 3, 3600, False),  # both spent
    (500, 3599, -1, 3600, True),  # the seed queue: unlimited attempts for an hour
    (500, 3600, -1, 3600, False),
    (10_000, 10**6, -1, 0, True),  # both unlimited: until retention ends
    (1, 0, 1, 0, False),        # maxAttempts 1: the first attempt was the only one
])
def test_a_task_stops_only_when_both_limits_are_spent(attempts, elapsed_s, max_attempts, max_duration_s, expected):
    assert may_retry(attempts, 0, elapsed_s * S, max_attempts, max_duration_s * S) is expected
