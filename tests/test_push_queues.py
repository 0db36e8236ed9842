"""Cloud Tasks queue resources: defaults, checks, updates by mask, queue.yaml push queues
(guide 2.1, 6c, 6d; conformance 1, 3, 6, 8, 9, 10)."""

from __future__ import annotations

import pytest

from queueservice.errors import InvalidArgument
from queueservice.stores.pushqueue.queues import check, default_queue, from_queue_yaml, split_name, updated

S = 1_000_000
NAME = "projects/p/locations/us-central1/queues/q"


def test_a_new_queue_has_googles_defaults():
    assert default_queue(NAME) == {
        "name": NAME, "state": "RUNNING",
        "rateLimits": {"maxDispatchesPerSecond": 500.0, "maxBurstSize": 100, "maxConcurrentDispatches": 1000},
        "retryConfig": {"maxAttempts": 100, "minBackoff": S // 10, "maxBackoff": 3600 * S, "maxDoublings": 16}}


@pytest.mark.parametrize("name", ["projects/p/locations/l/queues/bad_name!", "projects/p/queues/q",
                                  "projects/p/locations/l/queues/" + "x" * 101, ""])
def test_a_malformed_queue_name_is_refused_with_googles_message(name):
    with pytest.raises(InvalidArgument, match="Queue name must be formatted"):
        split_name(name)


def test_a_domain_scoped_project_is_a_valid_name():
    assert split_name("projects/example.com:app/locations/l/queues/q-1") == ("example.com:app", "l", "q-1")


@pytest.mark.parametrize("queue, field", [
    ({"rateLimits": {"maxDispatchesPerSecond": 501.0}}, "maxDispatchesPerSecond"),
    ({"rateLimits": {"maxDispatchesPerSecond": 0.0}}, "maxDispatchesPerSecond"),
    ({"rateLimits": {"maxConcurrentDispatches": 5001}}, "maxConcurrentDispatches"),
    ({"retryConfig": {"maxAttempts": -2}}, "maxAttempts"),
    ({"retryConfig": {"minBackoff": 10 * S, "maxBackoff": S}}, "minBackoff"),
    ({"stackdriverLoggingConfig": {"samplingRatio": 1.5}}, "samplingRatio"),
])
def test_values_out_of_range_are_refused_naming_the_field(queue, field):
    with pytest.raises(InvalidArgument, match=field):
        check(queue)


def test_the_seed_queue_from_gcloud_flags():
    """gcloud tasks queues create ... --max-dispatches-per-second 5 --max-attempts -1
    --max-retry-duration 3600s --min-backoff=10s --max-backoff=30s --max-concurrent-dispatches 1"""
    body = {"rateLimits": {"maxConcurrentDispatches": 1, "maxDispatchesPerSecond": 5.0},
            "retryConfig": {"maxAttempts": -1, "maxBackoff": 30 * S, "maxRetryDuration": 3600 * S, "minBackoff": 10 * S}}
    queue = updated(default_queue(NAME), body, None)
    assert queue["rateLimits"] == {"maxDispatchesPerSecond": 5.0, "maxBurstSize": 5, "maxConcurrentDispatches": 1}
    assert queue["retryConfig"] == {"maxAttempts": -1, "maxBackoff": 30 * S, "maxRetryDuration": 3600 * S,
                                    "minBackoff": 10 * S, "maxDoublings": 16}  # what gcloud leaves out keeps its default


def test_an_update_mask_changes_only_its_paths():
    queue = updated(default_queue(NAME), {"rateLimits": {"maxDispatchesPerSecond": 7.0},
                                          "retryConfig": {"maxAttempts": 3}},
                    ["rateLimits.maxDispatchesPerSecond"])
    assert queue["rateLimits"]["maxDispatchesPerSecond"] == 7.0 and queue["rateLimits"]["maxBurstSize"] == 7
    assert queue["retryConfig"]["maxAttempts"] == 100


def test_an_update_never_changes_state_or_name():
    queue = updated(default_queue(NAME), {"state": "PAUSED", "name": "projects/x/locations/y/queues/z"},
                    ["state", "name"])
    assert (queue["state"], queue["name"]) == ("RUNNING", NAME)


def test_a_masked_path_missing_from_the_body_clears_it():
    """Removing queue-level routing: PATCH with an empty body and updateMask=httpTarget."""
    queue = default_queue(NAME)
    queue["httpTarget"] = {"uriOverride": {"host": "example.com"}}
    assert "httpTarget" not in updated(queue, {}, ["httpTarget"])


def test_an_unknown_mask_path_is_refused():
    with pytest.raises(InvalidArgument, match="unknown field"):
        updated(default_queue(NAME), {}, ["rateLimit.maxDispatchesPerSecond"])


def test_a_queue_yaml_push_queue_as_gcloud_maps_it():
    entry = {"name": "push-notifications", "rate": "10/s", "bucket_size": 20, "max_concurrent_requests": 5,
             "retry_parameters": {"task_retry_limit": 0, "task_age_limit": "3m", "min_backoff_seconds": 10,
                                  "max_backoff_seconds": 30}, "target": "v2.worker"}
    queue = from_queue_yaml(entry, "projects/p/locations/l/queues/push-notifications")
    assert queue["rateLimits"] == {"maxDispatchesPerSecond": 10.0, "maxBurstSize": 20, "maxConcurrentDispatches": 5}
    assert queue["retryConfig"] == {"maxAttempts": 1, "maxRetryDuration": 180 * S, "minBackoff": 10 * S,
                                    "maxBackoff": 30 * S, "maxDoublings": 16}
    assert queue["appEngineRoutingOverride"] == {"service": "worker", "version": "v2"}
    assert queue["state"] == "RUNNING"


@pytest.mark.parametrize("rate, per_second", [("6/m", 0.1), ("1/d", round(1 / 86400, 9)), ("500/s", 500.0)])
def test_queue_yaml_rates_become_dispatches_per_second(rate, per_second):
    queue = from_queue_yaml({"rate": rate}, NAME)
    assert queue["rateLimits"]["maxDispatchesPerSecond"] == per_second


def test_a_zero_rate_pauses_the_queue():
    assert from_queue_yaml({"rate": "0/s"}, NAME)["state"] == "PAUSED"


@pytest.mark.parametrize("entry, why", [({}, "needs a rate"), ({"rate": "fast"}, "is not like"),
                                        ({"rate": "501/s"}, "over 500"),
                                        ({"rate": "1/s", "retry_parameters": {"task_age_limit": "0s"}}, "positive age"),
                                        ({"rate": "1/s", "retry_parameters": {"min_backoff_seconds": 5,
                                                                              "max_backoff_seconds": 1}}, "more than")])
def test_a_bad_queue_yaml_push_queue_is_refused(entry, why):
    with pytest.raises(InvalidArgument, match=why):
        from_queue_yaml(entry, NAME)
