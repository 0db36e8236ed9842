"""Shared fixtures: a real redis-server and fakeredis for every store test, apps, clients."""

from __future__ import annotations

import uuid

import fakeredis
import pytest
import redis

from queueservice.engine.app import create_app
from queueservice.config import Settings

from tests.flask_http import FlaskHttp
from harness.servers import RedisClusterServer, RedisServer, gunicorn_on

STORES = ["redis", "fakeredis", "cluster"]


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    """A service started with REDIS_URL unset keeps its embedded store in this test's folder."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "queueservice-data"))


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster():
    cluster = RedisClusterServer().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=STORES)
def redis_client(request):
    """A clean store: a real redis-server, fakeredis (the embedded store) or a Redis Cluster."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        client = redis.Redis.from_url(server.url)
        client.flushall()
        yield client
        client.close()
    elif request.param == "cluster":
        from redis.cluster import RedisCluster

        cluster = request.getfixturevalue("redis_cluster")
        client = RedisCluster.from_url(cluster.url)
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
        yield client
        client.close()
    else:
        yield fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def settings(tmp_path):
    return Settings(redis_url="redis://unused", log_level="WARNING")


@pytest.fixture
def app_redis(redis_server):
    """The API tests' store: one real redis-server (the store suite covers every store)."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def app(app_redis, settings):
    return create_app(settings, redis_client=app_redis)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def queue():
    """A queue name of this test's own."""
    return "q-" + uuid.uuid4().hex[:12]


@pytest.fixture
def api(app):
    """googleapiclient built from our discovery document, talking to the in-process app."""
    from googleapiclient.discovery import build

    http = FlaskHttp(app)
    return build("taskqueue", "v1beta2", http=http, static_discovery=False,
                 discoveryServiceUrl="http://localhost/discovery/v1/apis/{api}/{apiVersion}/rest")


@pytest.fixture(scope="session")
def gunicorn_server(redis_server):
    """The production command on a real Redis, two workers."""
    server = gunicorn_on(redis_server, 1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver():
    """A receiver of pushed tasks for a module's service (tests.receiver.Receiver)."""
    from tests.receiver import Receiver

    r = Receiver()
    yield r
    r.stop()
