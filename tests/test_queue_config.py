"""QUEUE_CONFIG: the pull queues of an App Engine queue.yaml are the queues there are."""

from __future__ import annotations

import re

import pytest

from queueservice.stores.pullqueue.queues import QueueCatalog, QueueConfigError
from queueservice.engine.app import create_app
from queueservice.config import Settings

from tests.helpers import PROJECT, expect_error, insert, lease

QUEUE_YAML = """
queue:
- name: render
  mode: pull
  retry_parameters:
    task_retry_limit: 2
  acl:
  - user_email: worker@example.com
  - writer_email: producer@example.com
- name: mail
  rate: 5/s
"""


@pytest.fixture
def api(redis_client, tmp_path):
    from googleapiclient.discovery import build

    from tests.flask_http import FlaskHttp

    path = tmp_path / "queue.yaml"
    path.write_text(QUEUE_YAML)
    app = create_app(Settings(redis_url="redis://unused", log_level="WARNING", queue_config=str(path)),
                     redis_client=redis_client)
    return build("taskqueue", "v1beta2", http=FlaskHttp(app), static_discovery=False,
                 discoveryServiceUrl="http://localhost/discovery/v1/apis/{api}/{apiVersion}/rest")


def test_configured_queue_reports_max_leases_and_acl(api):
    got = api.taskqueues().get(project=PROJECT, taskqueue="render").execute()
    assert got["maxLeases"] == 2
    assert got["acl"] == {"adminEmails": [], "consumerEmails": ["worker@example.com"],
                          "producerEmails": ["producer@example.com"]}


def test_unknown_queue_is_404(api):
    expect_error(api.taskqueues().get(project=PROJECT, taskqueue="nope"), 404, "notFound", "nope")
    call = api.tasks().lease(project=PROJECT, taskqueue="nope", numTasks=1, leaseSecs=1)
    expect_error(call, 404, "notFound")


def test_push_queue_is_refused(api):
    call = api.tasks().insert(project=PROJECT, taskqueue="mail", body={"payloadBase64": "aGk="})
    expect_error(call, 400, "invalid", "push queue")


def test_task_past_max_leases_is_not_leased_again(api):
    insert(api, "render", id="flaky")
    insert(api, "render", id="fine")
    assert [t["id"] for t in lease(api, "render", num=1, secs=0)] == ["flaky"]
    assert [t["id"] for t in lease(api, "render", num=1, secs=0)] == ["fine"]
    assert [t["id"] for t in lease(api, "render", num=1, secs=0)] == ["flaky"]
    assert [t["id"] for t in lease(api, "render", num=10, secs=0)] == ["fine"]
    assert lease(api, "render", num=10, secs=0) == []
    stats = api.taskqueues().get(project=PROJECT, taskqueue="render", getStats=True).execute()["stats"]
    assert stats["totalTasks"] == 0
    assert api.tasks().get(project=PROJECT, taskqueue="render", task="flaky").execute()["retry_count"] == 2


@pytest.mark.parametrize("text,message", [
    ("- name: a", "mapping"),
    ("queue:\n- name: a\n  retry_parameters:\n    task_retry_limit: abc", "task_retry_limit"),
    ("queue:\n- name: a\n  retry_parameters: 5", "retry_parameters"),
    ("queue:\n- name: bad_name\n  mode: pull", "bad_name"),
    ("queue:\n- mode: pull", "name"),
    ("queue: [", "QUEUE_CONFIG"),
])
def test_broken_queue_yaml_stops_start_up_with_a_clear_message(tmp_path, text, message):
    path = tmp_path / "queue.yaml"
    path.write_text(text)
    with pytest.raises(QueueConfigError, match=message):
        QueueCatalog.from_file(str(path))


def test_start_up_says_how_many_queues_were_loaded(tmp_path, caplog):
    path = tmp_path / "queue.yaml"
    path.write_text(QUEUE_YAML)
    with caplog.at_level("INFO", logger="queueservice"):
        QueueCatalog.from_file(str(path))
    assert f"QUEUE_CONFIG {path}: loaded 2 queues (1 pull, 1 push" in caplog.text


@pytest.mark.parametrize("text,message", [
    ("queue:\n- name: a\n  mode: pul", "write `mode: pull`"),
    ("queues:\n- name: a", "did you mean 'queue'"),
    ("queue:\n- name: a\n  retry_parameters:\n    task_retry_limt: 2", "did you mean 'task_retry_limit'"),
    ("queue:\n- name: a\n  mode: pull\n- name: a\n  mode: pull", "defined twice"),
    ("queue: []", "at least one queue"),
    ("", "the file is empty"),
])
def test_queue_yaml_is_checked_fully(tmp_path, text, message):
    path = tmp_path / "queue.yaml"
    path.write_text(text)
    with pytest.raises(QueueConfigError, match=re.escape(message)):
        QueueCatalog.from_file(str(path))
