"""The CLI against a running gunicorn: tables for people, --json for scripts."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
import requests

from harness.servers import REPO


@pytest.fixture
def queue():
    return "cli-" + uuid.uuid4().hex[:8]


def cli(url, *args, stdin=None):
    result = subprocess.run([sys.executable, "-m", "queueservice", *args, "--url", url], cwd=REPO,
                            capture_output=True, text=True, input=stdin, timeout=60)
    return result


def test_insert_lease_list_delete_from_the_cli(gunicorn_server, queue):
    url = gunicorn_server.url
    name = cli(url, "insert", "app", queue, '{"job": 7}', "--tag", "pdf").stdout.strip()
    assert name
    table = cli(url, "tasks", "app", queue).stdout
    assert name in table and "available" in table and "pdf" in table
    leased = json.loads(cli(url, "lease", "app", queue, "--num", "5", "--secs", "60", "--json").stdout)
    assert [t["id"] for t in leased] == [name]
    shown = cli(url, "task", "app", queue, name)
    assert '"job": 7' in shown.stdout and "leased" in shown.stdout, shown.stderr
    queues = json.loads(cli(url, "queues", "--json").stdout)
    assert any(q["queue"] == queue and q["leased"] == 1 for q in queues)
    assert cli(url, "delete", "app", queue, name).returncode == 0
    assert json.loads(cli(url, "tasks", "app", queue, "--json").stdout)["items"] == []


def test_purge_shows_progress_and_empties_the_queue(gunicorn_server, queue):
    base = f"{gunicorn_server.url}/taskqueue/v1beta2/projects/app/taskqueues/{queue}/tasks"
    with requests.Session() as session:
        for _ in range(30):
            session.post(base, json={"payloadBase64": "aGk="}).raise_for_status()
    result = cli(gunicorn_server.url, "purge", "app", queue, "--yes")
    assert result.returncode == 0, result.stderr
    assert "purged 30 tasks" in result.stdout
    assert "Purging" in result.stdout + result.stderr
    summary = requests.get(f"{gunicorn_server.url}/admin/v1/projects/app/queues/{queue}").json()
    assert summary["total"] == 0


def test_requeue_from_the_cli(gunicorn_server, queue):
    result = cli(gunicorn_server.url, "requeue", "app", queue, "--json")
    assert json.loads(result.stdout) == {"requeued": 0}


def test_cli_errors_are_clear(gunicorn_server, queue):
    result = cli(gunicorn_server.url, "task", "app", queue, "missing")
    assert result.returncode != 0 and "404" in result.stderr and "missing" in result.stderr
    result = cli("http://127.0.0.1:9", "queues")
    assert result.returncode != 0 and "cannot reach" in result.stderr


def test_metrics_sum_over_gunicorn_workers(gunicorn_server, queue):
    base = f"{gunicorn_server.url}/taskqueue/v1beta2/projects/app/taskqueues/{queue}"
    for _ in range(20):
        requests.get(base, params={"getStats": "true"}).raise_for_status()
    text = requests.get(gunicorn_server.url + "/metrics").text
    line = next(row for row in text.splitlines()
                if row.startswith('queueservice_api_requests_total{method="taskqueue.taskqueues.get",status="200"}'))
    assert float(line.split()[-1]) >= 20


def test_purge_for_scripts_needs_yes(gunicorn_server, queue):
    result = cli(gunicorn_server.url, "purge", "app", queue, "--json")
    assert result.returncode != 0 and "--yes" in result.stderr


def test_requeue_of_an_empty_task_name_is_refused(gunicorn_server, queue):
    result = cli(gunicorn_server.url, "requeue", "app", queue, "")
    assert result.returncode != 0 and "empty" in result.stderr


def test_names_are_quoted_into_urls(gunicorn_server, queue):
    result = cli(gunicorn_server.url, "task", "app", queue, "?x=1")
    assert result.returncode != 0 and "400" in result.stderr and "Traceback" not in result.stderr
    result = cli(gunicorn_server.url, "tasks", "app", "bad queue")
    assert result.returncode != 0 and "400" in result.stderr and "Traceback" not in result.stderr


def test_tables_escape_control_characters(gunicorn_server, queue):
    cli(gunicorn_server.url, "insert", "app", queue, "x", "--tag", "a\x1b[31mred\tb")
    table = cli(gunicorn_server.url, "tasks", "app", queue).stdout
    assert "\x1b" not in table and "\\x1b" in table
