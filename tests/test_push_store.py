"""Cloud Tasks queues in Redis, on every store (guide 2.1; conformance 1, 2, 4, 5, 6, 7, 11, 13, 14)."""

from __future__ import annotations

import pytest

from queueservice.errors import InvalidArgument
from queueservice.stores.pushqueue.keys import WAKE_CHANNEL
from queueservice.stores.pushqueue.queues import default_queue, updated
from queueservice.stores.pushqueue.store import (
    PushQueueStore,
    QueueExists,
    QueueNotFound,
    QueueRecentlyDeleted,
    TaskExists,
    TaskGone,
    TaskNotFound,
)

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


# --- tasks (conformance 15, 16, 17, 18, 21, 22, 41, 43) ------------------------------------

HTTP = {"httpRequest": {"url": "http://localhost:9/x", "httpMethod": "POST"}}


@pytest.fixture
def queue(store):
    store.create(default_queue(NAME))
    return NAME


def test_a_task_without_a_name_gets_a_decimal_id(store, queue):
    task = store.create_task(queue, None, HTTP)
    task_id = task.task["name"].rsplit("/tasks/", 1)[1]
    assert task.task["name"].startswith(queue + "/tasks/") and task_id.isdigit() and len(task_id) == 19


def test_a_named_task_is_stored_and_due_now_unless_scheduled_later(store, queue):
    now = store.clock.now_usec()
    soon = store.create_task(queue, "soon", HTTP, due_usec=now - 10_000_000)
    later = store.create_task(queue, "later", HTTP, due_usec=now + 3_600_000_000)
    assert now - 1_000_000 <= soon.due_usec <= store.clock.now_usec()
    assert later.due_usec == now + 3_600_000_000
    assert store.get_task(queue, "later").task == {**HTTP, "name": f"{queue}/tasks/later"}


def test_a_taken_or_recently_deleted_id_is_already_exists(store, queue):
    store.create_task(queue, "t", HTTP)
    with pytest.raises(TaskExists, match="Requested entity already exists"):
        store.create_task(queue, "t", HTTP)
    store.delete_task(queue, "t")
    with pytest.raises(TaskGone, match="existed recently"):
        store.get_task(queue, "t")
    with pytest.raises(TaskExists):
        store.create_task(queue, "t", HTTP)
    with pytest.raises(TaskNotFound, match="Requested entity was not found"):
        store.delete_task(queue, "t")


def test_without_tombstones_an_id_is_free_at_once(redis_client, queue):
    store = PushQueueStore(redis_client, tombstone_secs=0)
    store.create_task(queue, "t", HTTP)
    store.delete_task(queue, "t")
    with pytest.raises(TaskNotFound):
        store.get_task(queue, "t")
    store.create_task(queue, "t", HTTP)


def test_a_task_in_a_missing_queue_is_queue_not_found(store):
    with pytest.raises(QueueNotFound):
        store.create_task(NAME, "t", HTTP)
    with pytest.raises(QueueNotFound):
        store.list_tasks(NAME)


def test_tasks_are_listed_in_creation_order_a_page_at_a_time(store, queue):
    for name in ("c", "a", "b"):
        store.create_task(queue, name, HTTP)
    page, total = store.list_tasks(queue, 0, 2)
    assert [t.task["name"][-1] for t in page] == ["c", "a"] and total == 3
    page, _ = store.list_tasks(queue, 2, 2)
    assert [t.task["name"][-1] for t in page] == ["b"]
    assert store.list_tasks(queue, 9, 2) == ([], 3)


def test_purge_deletes_tasks_created_before_it_in_steps(store, queue):
    for i in range(5):
        store.create_task(queue, f"old{i}", HTTP)
    purged = store.purge(queue, step=2)
    assert purged.purge_usec > 0 and store.list_tasks(queue) == ([], 0)
    store.create_task(queue, "new", HTTP)
    assert [t.task["name"][-3:] for t in store.list_tasks(queue)[0]] == ["new"]


def test_deleting_a_queue_deletes_its_tasks(store, queue):
    store.create_task(queue, "t", HTTP)
    store.delete(queue)
    store.forget_deleted(queue)
    store.create(default_queue(queue))
    assert store.list_tasks(queue) == ([], 0)


# --- claims for dispatch (conformance 11, 12, 34, 36, 37, 38, 43) --------------------------

def limited(name, rate=500.0, burst=100, concurrent=1000):
    queue = default_queue(name)
    queue["rateLimits"] = {"maxDispatchesPerSecond": rate, "maxBurstSize": burst, "maxConcurrentDispatches": concurrent}
    return queue


def movable_clock(store):
    if store.clock.cluster:
        pytest.skip("the clock cannot move on a Redis Cluster")
    return store.clock


def test_a_due_task_is_claimed_once_and_a_later_one_reports_when_it_is_due(store, queue):
    now = store.clock.now_usec()
    store.create_task(queue, "now", HTTP)
    store.create_task(queue, "later", HTTP, due_usec=now + 3_600_000_000)
    first = store.claim(queue, 10)
    assert [c.task_id for c in first.claims] == ["now"]
    # The claim running out (deadline 600 s + grace) comes before the later task.
    assert first.next_usec == first.claims[0].until_usec < now + 3_600_000_000
    assert first.claims[0].attempts.dispatches == 1
    assert store.claim(queue, 10).claims == []
    assert store.finish(queue, first.claims[0], 200, None)
    assert store.claim(queue, 10).next_usec == now + 3_600_000_000


def test_claim_says_when_to_look_again_when_tokens_slots_or_state_hold_tasks_back(store):
    clock = movable_clock(store)
    name = "projects/p/locations/l/queues/held"
    store.create(limited(name, rate=2.0, burst=2, concurrent=3))
    for n in range(5):
        store.create_task(name, f"t{n}", HTTP)
    first = store.claim(name, 10)   # the burst: 2 tokens
    assert len(first.claims) == 2
    # Out of tokens: one comes back after half a second at 2/s.
    assert 0 < first.next_usec - first.now_usec <= 500_000
    clock.advance(1_000_000)
    second = store.claim(name, 10)
    assert len(second.claims) == 1     # the third slot of maxConcurrentDispatches
    # Full: only a freed slot (a wake message) or a claim running out helps.
    assert second.next_usec == min(c.until_usec for c in first.claims + second.claims)
    store.pause(name)
    store.finish(name, second.claims[0], 200, None)
    clock.advance(1_000_000)
    paused = store.claim(name, 10)
    assert paused.claims == [] and paused.next_usec == min(c.until_usec for c in first.claims)
    clock.reset()


def test_what_wakes_the_dispatchers(store, queue):
    if store.clock.cluster:
        pytest.skip("pub/sub is tested on one node")
    listener = store._redis.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(WAKE_CHANNEL)
    try:
        entry = queue.split("/", 1)[1].replace("/locations/", "/").replace("/queues/", "/")
        due = store.create_task(queue, "a", HTTP, due_usec=store.clock.now_usec() + 5_000_000).due_usec
        store.pause(queue)
        store.resume(queue)
        messages = []
        for _ in range(50):
            message = listener.get_message(timeout=0.1)
            if message:
                messages.append(message["data"].decode())
            if len(messages) == 2:
                break
        assert messages[0] == f"{entry} {due}"
        assert messages[1].startswith(entry + " ") and len(messages) == 2   # the resume; not the pause
    finally:
        listener.close()


def test_a_paused_queue_gives_nothing_but_run_task_sends_at_once(store, queue):
    store.create_task(queue, "t", HTTP)
    store.pause(queue)
    assert store.claim(queue, 10).claims == []
    (claim,) = store.run_task(queue, "t").claims
    assert claim.task_id == "t" and claim.attempts.dispatches == 1


def test_the_token_bucket_limits_claims_to_burst_then_the_rate(store):
    clock = movable_clock(store)
    name = "projects/p/locations/l/queues/rated"
    store.create(limited(name, rate=5.0, burst=5))
    for i in range(20):
        store.create_task(name, f"t{i}", HTTP)
    assert len(store.claim(name, 100).claims) == 5
    assert len(store.claim(name, 100).claims) == 0
    clock.advance(1_000_000)
    assert len(store.claim(name, 100).claims) == 5
    clock.reset()


def test_at_most_max_concurrent_dispatches_are_claimed(store):
    name = "projects/p/locations/l/queues/one"
    store.create(limited(name, concurrent=1))
    store.create_task(name, "a", HTTP)
    store.create_task(name, "b", HTTP)
    (claim,) = store.claim(name, 10).claims
    assert store.claim(name, 10).claims == []
    assert store.finish(name, claim, 200, None)
    assert [c.task_id for c in store.claim(name, 10).claims] == ["b"]


def test_a_failed_attempt_is_due_again_and_counted(store, queue):
    store.create_task(queue, "t", HTTP)
    (claim,) = store.claim(queue, 1).claims
    retry_at = store.clock.now_usec() + 10_000_000
    assert store.finish(queue, claim, 503, retry_at)
    got = store.get_task(queue, "t")
    assert got.due_usec == retry_at
    assert (got.attempts.dispatches, got.attempts.responses, got.attempts.last_status) == (1, 1, 503)
    assert got.attempts.first_dispatch_usec > 0


def test_a_finished_task_is_gone_and_a_lost_claim_records_nothing(store, queue):
    store.create_task(queue, "ok", HTTP)
    store.create_task(queue, "deleted", HTTP)
    claims = {c.task_id: c for c in store.claim(queue, 10).claims}
    assert store.finish(queue, claims["ok"], 200, None)
    with pytest.raises(TaskGone):
        store.get_task(queue, "ok")
    store.delete_task(queue, "deleted")  # deleted while it was being sent: never sent again
    assert not store.finish(queue, claims["deleted"], 500, store.clock.now_usec())
    assert store.claim(queue, 10).claims == []


def test_a_claim_whose_sender_died_is_due_again_after_its_deadline(store, queue):
    clock = movable_clock(store)
    store.create_task(queue, "t", HTTP, deadline_usec=15_000_000)
    (claim,) = store.claim(queue, 1, grace_usec=1_000_000).claims
    assert store.claim(queue, 1).claims == []
    clock.advance(16_000_001)
    (again,) = store.claim(queue, 1).claims
    assert again.task_id == "t" and again.attempts.dispatches == 2
    assert not store.finish(queue, claim, 200, None)  # the dead sender's late answer is ignored
    clock.reset()
