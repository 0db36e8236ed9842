"""The round-trip budget: at most one Redis round trip per insert, lease, update, delete and get."""

from __future__ import annotations

import pytest
import redis

from queueservice.engine.app import create_app
from queueservice.config import Settings

BASE = "/taskqueue/v1beta2/projects/app/taskqueues/rt"


class CountingConnection(redis.Connection):
    """Counts what is written to the socket: one write of packed commands is one round trip."""

    sent = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sent += 1
        return super().send_packed_command(command, check_health)


@pytest.fixture
def web(redis_server):
    client = redis.Redis.from_url(redis_server.url.replace("/0", "/3"), connection_class=CountingConnection)
    client.flushdb()
    app = create_app(Settings(redis_url="redis://unused", log_level="WARNING"), redis_client=client)
    web = app.test_client()
    for i in range(3):  # warm up: scripts loaded, queue registered once per process
        web.post(BASE + "/tasks", json={"id": f"warm{i}", "payloadBase64": "aGk="})
    web.post(BASE + "/tasks/lease?numTasks=3&leaseSecs=0")
    web.post(BASE + "/tasks/warm0?newLeaseSeconds=0", json={})
    web.get(BASE + "/tasks/warm0")
    web.delete(BASE + "/tasks/warm0")
    return web


def _round_trips(call):
    before = CountingConnection.sent
    response = call()
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    return CountingConnection.sent - before


def test_insert_is_one_round_trip(web):
    assert _round_trips(lambda: web.post(BASE + "/tasks", json={"id": "a", "payloadBase64": "aGk="})) == 1


def test_lease_of_many_tasks_is_one_round_trip(web):
    for i in range(50):
        web.post(BASE + "/tasks", json={"id": f"m{i}", "payloadBase64": "aGk="})
    assert _round_trips(lambda: web.post(BASE + "/tasks/lease?numTasks=50&leaseSecs=60")) == 1


def test_update_get_and_delete_are_one_round_trip_each(web):
    web.post(BASE + "/tasks", json={"id": "u", "payloadBase64": "aGk="})
    web.post(BASE + "/tasks/lease?numTasks=10&leaseSecs=60")
    assert _round_trips(lambda: web.post(BASE + "/tasks/u?newLeaseSeconds=30", json={})) == 1
    assert _round_trips(lambda: web.get(BASE + "/tasks/u")) == 1
    assert _round_trips(lambda: web.delete(BASE + "/tasks/u")) == 1
