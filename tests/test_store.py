"""The pull-queue store on a real redis-server and on fakeredis: atomic verbs and key layout."""

from __future__ import annotations

import time

import pytest

from queueservice.stores.pullqueue.keys import DATA_VERSION, REGISTRY, QueueKeys, decode_time, encode_time, member
from queueservice.stores.pullqueue.store import TaskStore
from queueservice.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound


@pytest.fixture
def store(redis_client):
    return TaskStore(redis_client)


@pytest.fixture
def keys():
    return QueueKeys("app", "q")


def all_keys(client) -> set:
    """Every key of the store, on a single Redis or across a cluster's primaries."""
    if hasattr(client, "get_primaries"):
        return {k.decode() for k in client.keys("*", target_nodes=client.PRIMARIES)}
    return {k.decode() for k in client.keys("*")}


def test_key_layout_is_pinned(redis_client, store, keys):
    store.insert(keys, "t1", b"p", tag=b"red")
    store.insert(keys, "t2", b"p")
    store.insert(keys, "big", b"x" * 1025)
    store.lease(keys, 1, 60)
    assert sorted(all_keys(redis_client)) == sorted([
        "qs:{app/q}:v2:tasks", "qs:{app/q}:v2:payloads", "qs:{app/q}:v2:notag", "qs:{app/q}:v2:tagged",
        "qs:{app/q}:v2:tag:red", "qs:{app/q}:v2:enq", "qs:{app/q}:stats", "qs:{app/q}:v2:leased",
        "qs:{app/q}:history", REGISTRY, DATA_VERSION])
    assert redis_client.get(DATA_VERSION) == b"2"
    # A record: enqueue time (8 base-94 digits), lease end (9), alphabet, retry count, tag length, tag, payload.
    record = redis_client.hget(keys.tasks, "t1")
    enq, lease = decode_time(record[:8].decode()), decode_time(record[8:17].decode())
    assert record[17:] == b"s1:3:redp"
    assert redis_client.zscore(keys.tagged, member(enq, "t1")) == lease
    assert redis_client.zscore(keys.tag(b"red"), member(enq, "t1")) == lease
    assert redis_client.zscore(keys.leased, member(enq, "t1")) == lease
    assert redis_client.zscore(keys.enqueued, member(enq, "t1")) == enq
    assert redis_client.hget(keys.tasks, "t2")[17:] == b"s0:0:p"
    # A payload past INLINE_PAYLOAD_BYTES lives in the payloads hash; the record says so (upper case).
    assert redis_client.hget(keys.tasks, "big")[17:] == b"S0:0:"
    assert redis_client.hget(keys.payloads, "big") == b"x" * 1025
    assert redis_client.zcard(keys.untagged) == 2 and redis_client.zcard(keys.tagged) == 1


def test_time_digits_sort_as_the_numbers_do():
    times = [0, 1, 93, 94, 1_700_000_000_000_000, 1_700_000_000_000_001, 94**8 - 1]
    assert sorted(encode_time(t, 8) for t in times) == [encode_time(t, 8) for t in times]
    assert [decode_time(encode_time(t, 8)) for t in times] == times
    assert decode_time(encode_time(2**53 - 1, 9)) == 2**53 - 1
    assert len(member(1_700_000_000_000_000, "a" * 22)) == 30


def test_many_queue_scripts_know_how_many_keys_a_queue_has(keys):
    import re
    from pathlib import Path

    lib = (Path(__file__).resolve().parent.parent / "queueservice" / "stores" / "pullqueue" / "lua" / "_lib.lua").read_text()
    assert int(re.search(r"local KEYS_PER_QUEUE = (\d+)", lib).group(1)) == len(keys.all())


def test_all_keys_of_a_queue_share_one_hash_tag(keys):
    names = keys.all() + [keys.tag(b"x"), keys.tag(b"")] + list(keys.first_layout().values())
    assert {n[n.index("{"):n.index("}") + 1] for n in names} == {"{app/q}"}


def test_a_deleted_name_is_tombstoned_then_freed(redis_client, keys):
    store = TaskStore(redis_client, tombstone_secs=3600)
    store.insert(keys, "t", b"p")
    store.delete(keys, "t")
    with pytest.raises(Conflict, match="tombstoned"):
        store.insert(keys, "t", b"p")
    with pytest.raises(InvalidArgument, match="task name is invalid"):
        store.delete(keys, "t")
    assert 3590 < redis_client.pttl(keys.tombstones) / 1000 <= 3600
    assert store.clear_tombstones(keys) == 1
    store.insert(keys, "t", b"p")
    store.delete(keys, "t")
    assert store.clear_all_tombstones() == 1
    store.insert(keys, "t", b"again")
    assert store.get(keys, "t").payload == b"again"
    with pytest.raises(NotFound):
        store.delete(keys, "never")


def test_with_tombstones_off_earlier_tombstones_are_not_honoured(redis_client, keys):
    TaskStore(redis_client, tombstone_secs=3600).insert(keys, "t", b"p")
    TaskStore(redis_client, tombstone_secs=3600).delete(keys, "t")
    off = TaskStore(redis_client, tombstone_secs=0)
    with pytest.raises(NotFound):
        off.delete(keys, "t")
    off.insert(keys, "t", b"again")
    assert off.get(keys, "t").payload == b"again"


def test_a_short_tombstone_setting_never_shortens_a_longer_ones_expiry(redis_client, keys):
    TaskStore(redis_client, tombstone_secs=3600).insert(keys, "long", b"p")
    TaskStore(redis_client, tombstone_secs=3600).delete(keys, "long")
    short = TaskStore(redis_client, tombstone_secs=5)
    short.insert(keys, "short", b"p")
    short.delete(keys, "short")
    assert redis_client.pttl(keys.tombstones) > 3_500_000


def test_a_list_with_payloads_stops_at_the_reply_byte_cap(store, keys, monkeypatch):
    import queueservice.stores.pullqueue.store as store_module

    for name in ("a", "b", "c"):
        store.insert(keys, name, b"123456")
    monkeypatch.setattr(store_module, "MAX_LEASE_REPLY_BYTES", 10)
    assert [t.name for t in store.list(keys, 10, payloads=True)] == ["a"]
    monkeypatch.setattr(store_module, "MAX_LEASE_REPLY_BYTES", 1)
    assert [t.payload for t in store.list(keys, 10, payloads=True)] == [b"123456"]
    assert len(store.list(keys, 10)) == 3


def test_insert_then_get(store, keys):
    store.insert(keys, "a", b"\x00\xff", tag=b"t", urlsafe=True)
    task = store.get(keys, "a")
    assert (task.payload, task.tag, task.urlsafe, task.retry_count, task.lease_usec) == (b"\x00\xff", b"t", True, 0, 0)


def test_insert_of_a_taken_name_raises_conflict(store, keys):
    store.insert(keys, "a", b"")
    with pytest.raises(Conflict):
        store.insert(keys, "a", b"")


def test_get_and_delete_of_unknown_raise_not_found(store, keys):
    with pytest.raises(NotFound):
        store.get(keys, "x")
    with pytest.raises(NotFound):
        store.delete(keys, "x")


def test_enqueue_times_come_from_the_redis_clock(store, keys, redis_client):
    seconds, micros = redis_client.time()
    task = store.insert(keys, "a", b"")
    assert 0 <= task.enqueue_usec - (seconds * 1_000_000 + micros) < 5_000_000


def test_lease_increments_retry_count_and_sets_lease_end(store, keys):
    store.insert(keys, "a", b"x")
    (task,) = store.lease(keys, 5, 30).tasks
    assert task.retry_count == 1
    assert task.payload == b"x"
    assert task.lease_usec - task.enqueue_usec >= 30_000_000


def test_zero_second_lease_hands_each_task_once(store, keys):
    for name in "abc":
        store.insert(keys, name, b"")
    assert [t.name for t in store.lease(keys, 10, 0).tasks] == ["a", "b", "c"]


def test_dead_letters_after_max_leases(store, keys, redis_client):
    store.insert(keys, "a", b"")
    store.insert(keys, "b", b"")
    assert len(store.lease(keys, 1, 0, max_leases=1).tasks) == 1
    result = store.lease(keys, 5, 0, max_leases=1)
    assert [t.name for t in result.tasks] == ["b"]
    assert result.dead_lettered == 1
    assert redis_client.zcard(keys.dead) == 1
    stats = store.stats(keys)
    assert (stats.total_tasks, stats.dead_lettered) == (1, 1)
    assert store.get(keys, "a").retry_count == 1


def test_renew_checks_the_callers_lease(store, keys):
    store.insert(keys, "a", b"")
    (task,) = store.lease(keys, 1, 60).tasks
    with pytest.raises(FailedPrecondition):
        store.renew(keys, "a", 10, expected_lease_usec=task.lease_usec + 1)
    renewed = store.renew(keys, "a", 0, expected_lease_usec=task.lease_usec)
    assert renewed.lease_usec <= task.lease_usec
    with pytest.raises(FailedPrecondition):
        store.renew(keys, "a", 10)


def test_stats_windows_are_bounded(store, keys, redis_client):
    store.insert(keys, "a", b"")
    for _ in range(5):
        store.lease(keys, 1, 0)
    assert redis_client.hlen(keys.stats) <= 120
    assert 0 < redis_client.pttl(keys.stats) <= 3_660_000
    assert store.stats(keys).leased_last_minute == 5


def test_deleting_every_task_leaves_only_queue_level_keys(store, keys, redis_client):
    for i in range(20):
        store.insert(keys, f"t{i}", b"x" * 100, tag=b"tag%d" % (i % 3))
    store.lease(keys, 10, 60)
    for i in range(20):
        store.delete(keys, f"t{i}")
    left = all_keys(redis_client)
    assert left == {REGISTRY, DATA_VERSION, keys.stats, keys.history}
    assert 0 < redis_client.pttl(keys.history) <= 86_400_000
    assert 0 < redis_client.pttl(keys.stats) <= 3_660_000


def test_queues_do_not_see_each_others_tasks(store):
    one, two = QueueKeys("app", "one"), QueueKeys("other", "one")
    store.insert(one, "a", b"")
    with pytest.raises(NotFound):
        store.get(two, "a")
    assert store.lease(two, 10, 60).tasks == []


def test_an_expired_lease_makes_the_task_available_again(store, keys):
    store.insert(keys, "a", b"")
    store.lease(keys, 1, 1)
    assert store.lease(keys, 1, 1).tasks == []
    time.sleep(1.05)
    assert [t.retry_count for t in store.lease(keys, 1, 1).tasks] == [2]


def test_history_records_each_transition(store, keys):
    store.insert(keys, "a", b"")
    store.lease(keys, 1, 1)
    time.sleep(1.05)
    store.lease(keys, 1, 60)
    store.renew(keys, "a", 30)
    store.renew(keys, "a", 0)
    store.delete(keys, "a")
    events = [(e.event, e.retry_count) for e in reversed(store.history(keys, "a"))]
    assert events == [("inserted", 0), ("leased", 1), ("lease_expired", 1), ("leased", 2),
                      ("renewed", 2), ("released", 2), ("deleted", 2)]


def test_history_is_capped(redis_client, keys):
    store = TaskStore(redis_client, history_max_events=10)
    for i in range(300):
        store.insert(keys, f"t{i}", b"")
    assert redis_client.xlen(keys.history) < 300


def test_dead_letter_is_requeued_with_a_fresh_retry_count(store, keys):
    store.insert(keys, "a", b"")
    store.lease(keys, 1, 0, max_leases=1)
    assert store.lease(keys, 1, 0, max_leases=1).dead_lettered == 1
    assert [t.name for t in store.browse(keys, "dead").tasks] == ["a"]
    task = store.requeue(keys, "a")
    assert task.retry_count == 0
    assert [t.name for t in store.lease(keys, 1, 60, max_leases=1).tasks] == ["a"]
    assert [e.event for e in store.history(keys, "a", limit=2)] == ["leased", "requeued"]
    with pytest.raises(FailedPrecondition):
        store.requeue(keys, "a")


def test_browse_pages_each_state(store, keys):
    for i in range(10):
        store.insert(keys, f"t{i}", b"", tag=b"even" if i % 2 == 0 else b"")
    store.insert(keys, "later", b"", eta_usec=(int(time.time()) + 3600) * 1_000_000)
    store.lease(keys, 3, 600)
    assert [t.name for t in store.browse(keys, "all", 0, 4).tasks] == ["t0", "t1", "t2", "t3"]
    page = store.browse(keys, "available", 2, 3)
    assert ([t.name for t in page.tasks], page.total) == (["t5", "t6", "t7"], 7)
    assert store.browse(keys, "leased").total == 3
    assert [t.name for t in store.browse(keys, "delayed").tasks] == ["later"]
    assert [t.name for t in store.browse(keys, "available", tag=b"even").tasks] == ["t4", "t6", "t8"]
    assert [t.name for t in store.browse(keys, "leased", tag=b"even").tasks] == ["t0", "t2"]
    stats = store.stats(keys)
    assert (stats.available, stats.leased, stats.delayed) == (7, 3, 1)


def test_purge_in_steps_empties_the_queue(store, keys, redis_client):
    for i in range(25):
        store.insert(keys, f"t{i}", b"x", tag=b"t")
    store.lease(keys, 5, 600)
    assert store.purge_step(keys, 10) == (10, 15)
    assert store.purge_step(keys, 10) == (10, 5)
    assert store.purge_step(keys, 10) == (5, 0)
    assert all_keys(redis_client) <= {REGISTRY, DATA_VERSION, keys.stats, keys.history}


def test_registry_lists_queues(store):
    store.insert(QueueKeys("p1", "b"), "x", b"")
    store.insert(QueueKeys("p1", "a"), "x", b"")
    assert [(k.project, k.queue) for k in store.queues()] == [("p1", "a"), ("p1", "b")]


def test_lease_reply_is_capped_by_payload_bytes(store, keys, monkeypatch):
    import queueservice.stores.pullqueue.store as store_module

    monkeypatch.setattr(store_module, "MAX_LEASE_REPLY_BYTES", 2500)
    for i in range(5):
        store.insert(keys, f"t{i}", b"x" * 1000)
    assert [t.name for t in store.lease(keys, 10, 60).tasks] == ["t0", "t1"]
    assert [t.name for t in store.lease(keys, 10, 60).tasks] == ["t2", "t3"]
    store.insert(keys, "huge", b"x" * 5000)
    assert [t.name for t in store.lease(keys, 10, 60).tasks] == ["t4"]
    assert [t.name for t in store.lease(keys, 10, 60).tasks] == ["huge"]


def test_first_tag_skips_a_task_past_max_leases(store, keys):
    store.insert(keys, "a", b"", tag=b"A")
    store.lease(keys, 1, 0, tag=b"A", max_leases=1)
    store.insert(keys, "b", b"", tag=b"B")
    result = store.lease(keys, 5, 60, first_tag=True, max_leases=1)
    assert [t.name for t in result.tasks] == ["b"]
    assert result.dead_lettered == 1


def test_zero_second_lease_looks_past_tasks_set_aside(store, keys):
    store.insert(keys, "x1", b"")
    store.lease(keys, 1, 0, max_leases=1)
    store.insert(keys, "y1", b"")
    result = store.lease(keys, 1, 0, max_leases=1)
    assert ([t.name for t in result.tasks], result.dead_lettered) == (["y1"], 1)


def test_insert_many_pipelines_inserts_and_skips_taken_names(store, keys):
    store.insert(keys, "t1", b"old")
    assert store.insert_many(keys, ((f"t{i}", b"new") for i in range(5)), batch=2) == 4
    assert store.get(keys, "t1").payload == b"old"
    assert store.get(keys, "t4").payload == b"new"


def test_delayed_tasks_are_found_behind_many_leased_ones(store, keys):
    store.insert_many(keys, ((f"t{i}", b"") for i in range(1500)))
    assert len(store.lease(keys, 1000, 3600).tasks) == 1000
    assert len(store.lease(keys, 500, 3600).tasks) == 500
    store.insert(keys, "later", b"", delay_secs=7200)
    page = store.browse(keys, "delayed")
    assert [t.name for t in page.tasks] == ["later"]
    assert store.stats(keys).delayed == 1


def test_lease_takes_tagged_and_untagged_tasks_in_one_order(store, keys):
    eta = (int(time.time()) - 60) * 1_000_000
    for i in range(6):  # the same ETA for all: ties go in enqueue order, across both indexes
        store.insert(keys, f"t{i}", b"", tag=b"red" if i % 3 == 0 else b"", eta_usec=eta)
    store.insert(keys, "early", b"", tag=b"blue", eta_usec=eta - 1)
    store.insert(keys, "later", b"", eta_usec=eta + 1)
    assert [t.name for t in store.lease(keys, 3, 60).tasks] == ["early", "t0", "t1"]
    assert [t.name for t in store.lease(keys, 10, 60).tasks] == ["t2", "t3", "t4", "t5", "later"]


def test_zero_second_leases_of_a_mixed_queue_hand_each_task_once(store, keys):
    for i in range(10):
        store.insert(keys, f"t{i}", b"", tag=b"x" if i % 2 else b"")
    assert sorted(t.name for t in store.lease(keys, 10, 0).tasks) == [f"t{i}" for i in range(10)]


def test_first_tag_of_an_untagged_head_leases_untagged_tasks_only(store, keys):
    store.insert(keys, "u1", b"")
    store.insert(keys, "r1", b"", tag=b"red")
    store.insert(keys, "u2", b"")
    assert [t.name for t in store.lease(keys, 5, 60, first_tag=True).tasks] == ["u1", "u2"]
    assert [t.name for t in store.lease(keys, 5, 60, first_tag=True).tasks] == ["r1"]


@pytest.mark.parametrize("size", [0, 1024, 1025, 1_000_000])
def test_payloads_of_every_size_round_trip(store, keys, redis_client, size):
    payload = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    store.insert(keys, "t", payload, tag=b"a:b", urlsafe=True)
    assert store.get(keys, "t").payload == payload
    assert store.list(keys, 10, payloads=True)[0].payload == payload
    leased = store.lease(keys, 1, 60).tasks[0]
    assert (leased.payload, leased.tag, leased.urlsafe, leased.retry_count) == (payload, b"a:b", True, 1)
    renewed = store.renew(keys, "t", 120, expected_lease_usec=leased.lease_usec)
    assert (renewed.payload, renewed.retry_count) == (payload, 1)
    task, state, _ = store.inspect(keys, "t")
    assert (task.payload, state) == (payload, "leased")
    assert store.browse(keys, "leased", tag=b"a:b").tasks[0].name == "t"
    store.delete(keys, "t")
    assert not redis_client.exists(keys.tasks, keys.payloads)


def test_browse_merges_tagged_and_untagged_tasks(store, keys):
    hour = (int(time.time()) + 3600) * 1_000_000
    for i in range(8):
        store.insert(keys, f"t{i}", b"", tag=b"odd" if i % 2 else b"")
    for i in range(4):
        store.insert(keys, f"d{i}", b"", tag=b"odd" if i % 2 else b"", eta_usec=hour + i)
    page = store.browse(keys, "available", 3, 4)
    assert ([t.name for t in page.tasks], page.total) == (["t3", "t4", "t5", "t6"], 8)
    assert [t.name for t in store.browse(keys, "delayed", 1, 2).tasks] == ["d1", "d2"]
    assert [t.name for t in store.browse(keys, "delayed", tag=b"").tasks] == ["d0", "d2"]
    assert [t.name for t in store.browse(keys, "available", tag=b"").tasks] == ["t0", "t2", "t4", "t6"]
    store.lease(keys, 2, 600, tag=b"odd", max_leases=1)
    store.lease(keys, 8, 0, max_leases=1)
    store.lease(keys, 8, 0, max_leases=1)  # past max_leases: every available task is set aside
    assert [t.name for t in store.browse(keys, "dead", tag=b"odd").tasks] == ["t5", "t7"]
    assert [t.name for t in store.browse(keys, "leased", tag=b"odd").tasks] == ["t1", "t3"]
    assert store.stats(keys).delayed == 4


def _first_layout_task(client, keys, name, payload, *, enq, lease=0, rc=0, tag=b"", eta=None,
                       lease_end=None, dead_at=None):
    """A task written as the first layout (data version 1) wrote it."""
    old = keys.first_layout()
    old_member = f"{enq:016d}{name}".encode()
    client.hset(old["tasks"], name, f"{enq},{lease},{rc},s,".encode() + tag)
    client.hset(old["payloads"], name, payload)
    if dead_at is not None:
        client.zadd(old["dead"], {old_member: dead_at})
        return
    score = eta if eta is not None else enq
    client.zadd(old["eta"], {old_member: score})
    client.zadd(old["enq"], {old_member: enq})
    client.zadd(keys.base + ("tag:" + tag.decode() if tag else "notag"), {old_member: score})
    if lease_end is not None:
        client.zadd(old["leased"], {old_member: lease_end})


def test_the_first_layout_is_migrated_on_first_use(redis_client, keys):
    now = int(time.time() * 1_000_000)
    client = redis_client
    _first_layout_task(client, keys, "a", b"pa", enq=now - 5000)
    _first_layout_task(client, keys, "b", b"x" * 2000, enq=now - 4000, tag=b"red")
    _first_layout_task(client, keys, "held", b"ph", enq=now - 3000, lease=now + 600_000_000, rc=2,
                       eta=now + 600_000_000, lease_end=now + 600_000_000)
    _first_layout_task(client, keys, "gone", b"pg", enq=now - 2000, rc=3, dead_at=now - 1000)
    _first_layout_task(client, keys, "later", b"pl", enq=now - 1000, lease=now + 3_600_000_000,
                       eta=now + 3_600_000_000)
    client.sadd(REGISTRY, "app/q")
    store = TaskStore(client)
    assert store.check_layout() == 1
    assert client.get(DATA_VERSION) == b"2"
    assert not any(k.startswith("qs:{app/q}:") and ":v2:" not in k and not k.endswith((":stats", ":history"))
                   for k in all_keys(client))
    assert [t.name for t in store.list(keys, 10)] == ["a", "b", "held", "later"]
    held = store.get(keys, "held")
    assert (held.payload, held.retry_count, held.enqueue_usec, held.lease_usec) == (b"ph", 2, now - 3000,
                                                                                     now + 600_000_000)
    assert store.inspect(keys, "gone")[1] == "dead"
    stats = store.stats(keys)
    assert (stats.total_tasks, stats.available, stats.leased, stats.delayed, stats.dead_lettered) == (4, 2, 1, 1, 1)
    leased = store.lease(keys, 10, 60, tag=b"red").tasks
    assert [(t.name, t.payload) for t in leased] == [("b", b"x" * 2000)]
    assert [t.name for t in store.lease(keys, 10, 60).tasks] == ["a"]
    store.renew(keys, "held", 0)
    store.requeue(keys, "gone")
    assert store.check_layout() == 0


def test_a_store_refuses_data_of_a_newer_layout(redis_client, keys):
    from queueservice.errors import StartupError

    redis_client.set(DATA_VERSION, "3")
    try:
        with pytest.raises(StartupError, match="layout version 3"):
            TaskStore(redis_client).get(keys, "t")
    finally:  # the Redis is shared with later tests and services
        redis_client.delete(DATA_VERSION)
