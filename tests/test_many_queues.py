"""Many queues: idle empty ones are forgotten with their history; counts of many queues in one call;
the dashboard overview is paged."""

from __future__ import annotations

import re

import requests

from queueservice.stores.pullqueue.keys import REGISTRY
from queueservice.stores.pullqueue.store import TaskStore

from harness.servers import gunicorn_on


def test_idle_empty_queues_are_forgotten_with_their_history(redis_client):
    store = TaskStore(redis_client)
    emptied, busy, dead = store.keys("p", "emptied"), store.keys("p", "busy"), store.keys("p", "dead")
    store.insert(emptied, "t", b"x")
    store.delete(emptied, "t")
    store.insert(busy, "t", b"x")
    store.insert(dead, "t", b"x")
    store.lease(dead, 1, 0, max_leases=1)
    store.lease(dead, 1, 0, max_leases=1)  # set aside as a dead letter
    assert store.forget_idle(3600) == 0  # used a moment ago: kept
    assert store.forget_idle(0) == 1
    assert [k.queue for k in store.queues()] == ["busy", "dead"]
    assert not redis_client.exists(emptied.history, emptied.stats, emptied.leased)
    assert redis_client.exists(busy.history)
    store.insert(emptied, "again", b"x")  # used again: listed again
    assert [k.queue for k in store.queues()] == ["busy", "dead", "emptied"]
    assert redis_client.sismember(REGISTRY, "p/emptied")


def test_a_queue_forgotten_by_one_process_is_listed_again_by_anothers_next_insert(redis_client):
    """Each process remembers for a while that it registered a queue; a sweep elsewhere must not
    leave a queue that holds tasks out of the listings."""
    sweeper, producer = TaskStore(redis_client), TaskStore(redis_client)
    keys = producer.keys("p", "twice")
    producer.insert(keys, "t", b"x")
    producer.delete(keys, "t")
    assert sweeper.forget_idle(0) == 1 and not redis_client.sismember(REGISTRY, "p/twice")
    producer.insert(keys, "t2", b"x")  # the producer registered it seconds ago, by its own account
    assert redis_client.sismember(REGISTRY, "p/twice")
    assert [k.queue for k in sweeper.queues()] == ["twice"]


def test_summaries_match_stats_and_skip_idle_queues(redis_client):
    store = TaskStore(redis_client)
    queues = [store.keys("p", f"q{i}") for i in range(5)]
    for i, keys in enumerate(queues[:3]):
        for n in range(i + 1):
            store.insert(keys, f"t{n}", b"x")
    store.lease(queues[2], 1, 60)
    store.insert(queues[3], "gone", b"x")
    store.delete(queues[3], "gone")
    assert store.summaries(queues) == [store.stats(k) for k in queues]
    skipped = store.summaries(queues, skip_idle=True)
    assert skipped[:3] == [store.stats(k) for k in queues[:3]] and skipped[3:] == [None, None]


def test_overview_is_paged_and_metrics_leave_out_idle_queues(redis_server):
    import redis

    web = gunicorn_on(redis_server, 7, WEB_CONCURRENCY="1")
    try:
        store = TaskStore(redis.Redis.from_url(redis_server.url.rsplit("/", 1)[0] + "/7"))
        for i in range(250):
            keys = store.keys("many", f"q{i:03d}")
            store.insert(keys, "t", b"x")
            if i % 50:
                store.delete(keys, "t")
        first = requests.get(web.url + "/dashboard/", timeout=10).text
        assert len(re.findall(r'<tr data-queue="many/', first)) == 100
        assert "queues 1–100 of 250" in first and "offset=100" in first
        last = requests.get(web.url + "/dashboard/?offset=200", timeout=10).text
        assert len(re.findall(r'<tr data-queue="many/', last)) == 50 and "q249" in last
        metrics = requests.get(web.url + "/metrics", timeout=10).text
        listed = set(re.findall(r'queueservice_tasks\{api="taskqueue",project="many",queue="(q\d+)",state="available"\} 1.0', metrics))
        assert listed == {f"q{i:03d}" for i in range(0, 250, 50)}
        assert 'queue="q001"' not in metrics
    finally:
        web.stop()
