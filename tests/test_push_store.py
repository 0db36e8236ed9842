"""Cloud Tasks queues in Redis, on every store (guide 2.1; conformance 1, 2, 4, 5, 6, 7, 11, 13, 14)."""

from __future__ import annotations

import pytest

from queueservice.errors import InvalidArgument
from queueservice.stores.pushqueue.queues import default_queue, updated
from queueservice.stores.pushqueue.store import PushQueueStore, QueueExists, QueueNotFound, QueueRecentlyDeleted

NAME = "projects/p/locations/us-central1/queues/q"


@pytest.fixture
def store(redis_client):
    return PushQueueStore(redis_client, recreate_window_secs=3600)


def test_a_created_queue_reads_back_with_googles_defaults(store):
    store.create(default_queue(NAME))
    got = store.get(NAME).resource()
    assert got == {**default_queue(NAME), "state": "RUNNING"}


def test_creating_an_existing_queue_is_already_exists(store):
    store.create(default_queue(NAME))
    with pytest.raises(QueueExists, match="Queue already exists"):
        store.create(default_queue(NAME))


def test_an_unknown_queue_is_not_found_with_googles_message(store):
    with pytest.raises(QueueNotFound, match="wait at least a minute"):
        store.get(NAME)


def test_a_malformed_name_is_invalid(store):
    with pytest.raises(InvalidArgument, match="Queue name must be formatted"):
        store.get("projects/p/queues/q")


def test_a_deleted_queue_cannot_be_created_again_at_once(store):
    store.create(default_queue(NAME))
    store.delete(NAME)
    with pytest.raises(QueueNotFound):
        store.get(NAME)
    with pytest.raises(QueueRecentlyDeleted, match="existed too recently"):
        store.create(default_queue(NAME))
    with pytest.raises(QueueRecentlyDeleted):
        store.update(NAME, lambda current: default_queue(NAME))
    assert store.forget_deleted(NAME)
    store.create(default_queue(NAME))


def test_an_update_changes_the_masked_fields_and_creates_a_missing_queue(store):
    body = {"rateLimits": {"maxDispatchesPerSecond": 5.0}, "retryConfig": {"maxAttempts": 3}}
    created = store.update(NAME, lambda q: updated(q or default_queue(NAME), body, ["rateLimits.maxDispatchesPerSecond"]))
    assert created.queue["rateLimits"]["maxDispatchesPerSecond"] == 5.0
    assert created.queue["retryConfig"]["maxAttempts"] == 100
    again = store.update(NAME, lambda q: updated(q, body, ["retryConfig.maxAttempts"]))
    assert (again.queue["rateLimits"]["maxDispatchesPerSecond"], again.queue["retryConfig"]["maxAttempts"]) == (5.0, 3)


def test_an_update_raced_by_another_is_applied_on_the_newest_queue(store):
    store.create(default_queue(NAME))
    raced = []

    def change(current):
        if not raced:  # another caller changes the queue between our read and our write
            raced.append(1)
            store.update(NAME, lambda q: updated(q, {"retryConfig": {"maxAttempts": 7}}, ["retryConfig.maxAttempts"]))
        return updated(current, {"rateLimits": {"maxDispatchesPerSecond": 2.0}}, ["rateLimits.maxDispatchesPerSecond"])

    final = store.update(NAME, change).queue
    assert (final["retryConfig"]["maxAttempts"], final["rateLimits"]["maxDispatchesPerSecond"]) == (7, 2.0)


def test_pause_resume_and_purge(store):
    store.create(default_queue(NAME))
    assert store.pause(NAME).resource()["state"] == "PAUSED"
    assert store.resume(NAME).resource()["state"] == "RUNNING"
    purged = store.purge(NAME).resource()
    assert purged["purgeTime"] >= store.clock.now_usec() - 60_000_000
    with pytest.raises(QueueNotFound):
        store.pause("projects/p/locations/us-central1/queues/none")


def test_queues_are_listed_by_name_per_location_a_page_at_a_time(store):
    for queue in ("b", "a", "c"):
        store.create(default_queue(f"projects/p/locations/l1/queues/{queue}"))
    store.create(default_queue("projects/p/locations/l2/queues/z"))
    names = [q.queue["name"].rsplit("/", 1)[1] for q in store.list("p", "l1")]
    assert names == ["a", "b", "c"]
    assert [q.queue["name"][-1] for q in store.list("p", "l1", offset=1, limit=1)] == ["b"]
    store.delete("projects/p/locations/l1/queues/b")
    assert [q.queue["name"][-1] for q in store.list("p", "l1")] == ["a", "c"]


def test_the_keys_of_a_queue_share_one_hash_tag(store, redis_client):
    store.create(default_queue(NAME))
    keys = store.keys(NAME)
    assert {k[k.index("{"):k.index("}") + 1] for k in keys.all()} == {"{p/us-central1/q}"}
    assert keys.queue_hash == "ct:{p/us-central1/q}:queue"
    assert redis_client.zscore("ct:queues", "p/us-central1/q") == 0
