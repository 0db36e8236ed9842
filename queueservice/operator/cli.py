"""Command-line access to a running service: queues, tasks, insert, lease, delete, purge, requeue.

Every command talks HTTP to `--url` (the admin API and the TaskQueue API); tables for people,
`--json` for scripts.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import click

from queueservice.operator import presentation

_TASKQUEUE = "/taskqueue/v1beta2/projects/{project}/taskqueues/{queue}"
_ADMIN = "/admin/v1/projects/{project}/queues/{queue}"


def _seg(value: str) -> str:
    """One path segment, quoted: names never reach the URL as '/', '?' or '%'."""
    return urllib.parse.quote(value, safe="~")


def taskqueue_path(project, queue, *rest) -> str:
    return _TASKQUEUE.format(project=_seg(project), queue=_seg(queue)) + "".join("/" + _seg(r) for r in rest)


def admin_path(project, queue, *rest) -> str:
    return _ADMIN.format(project=_seg(project), queue=_seg(queue)) + "".join("/" + _seg(r) for r in rest)


def _cell(value) -> str:
    """A table cell without control characters (a tag or payload must not drive the terminal)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256 else "?" for c in str(value))


class Client:
    def __init__(self, url: str, api: str = "taskqueue"):
        self.url = url.rstrip("/")
        self.api = api

    def call(self, method: str, path: str, params=None, body=None):
        if path.startswith("/admin/v1/projects/") and self.api != "taskqueue":
            params = {**(params or {}), "api": self.api}  # the admin API's kind of queue
        query = "?" + urllib.parse.urlencode(params) if params else ""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path + query, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                message = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = text.decode("utf-8", "replace")[:200]
            raise click.ClickException(f"{exc.code}: {message}") from None
        except urllib.error.URLError as exc:
            raise click.ClickException(f"cannot reach {self.url}: {exc.reason}") from None
        return json.loads(text) if text.strip() else {}


def _options(fn):
    fn = click.option("--url", default="http://127.0.0.1:8080", show_default=True, envvar="QUEUESERVICE_URL",
                      help="The running service.")(fn)
    fn = click.option("--api", default="taskqueue", show_default=True,
                      help="Which API's queues (taskqueue: the pull queues).")(fn)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)


def _pull_queues_only(api: str, command: str) -> None:
    if api != "taskqueue":
        raise click.UsageError(f"{command} speaks the TaskQueue API: it works on pull queues only (--api taskqueue)")


def _table(rows, headers):
    rows = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    click.echo("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def _out(as_json, value, show):
    if as_json:
        click.echo(json.dumps(value, indent=2))
    else:
        show(value)


@click.command("queues")
@_options
def queues_cmd(url, as_json, api):
    """List every queue with its counts."""
    client, items = Client(url, api), []
    while True:  # the admin API answers a page at a time
        page = client.call("GET", "/admin/v1/queues", {"offset": len(items), "limit": 1000})
        items += page.get("items", [])
        if not page.get("items") or len(items) >= page.get("total", 0):
            break
    items = [q for q in items if q["api"] == api]
    if api == "cloudtasks":
        _out(as_json, items, lambda items: _table(
            [(q["project"], q["queue"], q["queueState"], q["scheduled"], q["retrying"], q["running"], q["finished"],
              q["maxDispatchesPerSecond"], q["maxConcurrentDispatches"]) for q in items],
            ["PROJECT", "QUEUE", "STATE", "SCHEDULED", "RETRYING", "RUNNING", "FINISHED", "RATE/S", "CONCURRENT"]))
        return
    _out(as_json, items, lambda items: _table(
        [(q["project"], q["queue"], q["available"], q["leased"], q["delayed"], q["dead"], q["leasedLastMinute"])
         for q in items], ["PROJECT", "QUEUE", "AVAILABLE", "LEASED", "DELAYED", "DEAD", "LEASED/MIN"]))


@click.command("tasks")
@click.argument("project")
@click.argument("queue")
@click.option("--state", type=click.Choice(["all", "available", "leased", "delayed", "dead",
                                           "scheduled", "retrying", "running", "finished"]), default="all",
              help="Pull queues: available, leased, delayed, dead. Push queues: scheduled, retrying, running, finished.")
@click.option("--tag", default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0)
@_options
def tasks_cmd(project, queue, state, tag, limit, offset, url, as_json, api):
    """List the tasks of a queue in one state."""
    params = {"state": state, "limit": limit, "offset": offset}
    if tag is not None:
        params["tag"] = tag
    page = Client(url, api).call("GET", admin_path(project, queue, "tasks"), params)
    now = int(time.time() * 1e6)
    if api == "cloudtasks":
        _out(as_json, page, lambda page: _table(
            [(t["id"], t.get("outcome") or t["state"], f"{t['httpMethod']} {t['tag']}", t["dispatchCount"],
              t.get("lastStatus", "-") if t.get("lastStatus", "-") is not None else "none",
              presentation.relative(int(t["enqueueTimestamp"]), now),
              presentation.relative(int(t["leaseTimestamp"]), now)) for t in page.get("items", [])],
            ["TASK", "STATE", "TARGET", "ATTEMPTS", "LAST ANSWER", "CREATED", "DUE/FINISHED"]))
        return
    _out(as_json, page, lambda page: _table(
        [(t["id"], t["state"], t.get("tag", ""), t["retryCount"], presentation.relative(int(t["enqueueTimestamp"]), now),
          presentation.relative(int(t["leaseTimestamp"]), now)) for t in page.get("items", [])],
        ["TASK", "STATE", "TAG", "RETRIES", "ENQUEUED", "LEASE/DUE"]))


@click.command("task")
@click.argument("project")
@click.argument("queue")
@click.argument("task")
@_options
def task_cmd(project, queue, task, url, as_json, api):
    """Show one task: its payload and its history."""
    found = Client(url, api).call("GET", admin_path(project, queue, "tasks", task))

    def show(t):
        for key in ("id", "state", "outcome", "target", "httpMethod", "tag", "service", "retryCount", "lastStatus",
                    "dispatchDeadline"):
            if key in t:
                click.echo(f"{key:12} {t[key]}")
        for name, value in t.get("headers", {}).items():
            click.echo(f"{'header':12} {_cell(name)}: {_cell(value)}")
        click.echo(f"{'enqueued':12} {presentation.when(int(t['enqueueTimestamp']))}")
        click.echo(f"{'lease':12} {presentation.when(int(t['leaseTimestamp']))}")
        kind, text = presentation.preview(base64.b64decode(t.get("payloadBase64", "")))
        click.echo(f"payload ({t.get('payloadSize', 0)} bytes, {kind}):\n{text}")
        for n, a in enumerate(t.get("attempts", []), t.get("dispatchCount", 0) - len(t.get("attempts", [])) + 1):
            answer = a["responseStatus"] if a["responseStatus"] is not None else "no answer"
            took = (int(a["responseTime"]) - int(a["dispatchTime"])) / 1e6
            click.echo(f"attempt {n:<4} {presentation.when(int(a['dispatchTime']))}  {answer}  {took:.3f} s")
        click.echo("history:")
        for e in t.get("history", []):
            click.echo(f"  {presentation.when(int(e['at']))}  {e['event']:14} retry_count={e['retryCount']}")

    _out(as_json, found, show)


@click.command("insert")
@click.argument("project")
@click.argument("queue")
@click.argument("payload")
@click.option("--tag", default=None)
@click.option("--name", default=None, help="Task name (generated when left out).")
@_options
def insert_cmd(project, queue, payload, tag, name, url, as_json, api):
    """Insert a task whose payload is PAYLOAD (text; '-' reads standard input)."""
    _pull_queues_only(api, "insert")
    data = sys.stdin.buffer.read() if payload == "-" else payload.encode("utf-8")
    body = {"queueName": queue, "payloadBase64": base64.b64encode(data).decode()}
    if tag is not None:
        body["tag"] = tag
    if name:
        body["id"] = name
    task = Client(url, api).call("POST", taskqueue_path(project, queue, "tasks"), body=body)
    _out(as_json, task, lambda t: click.echo(t["id"]))


@click.command("lease")
@click.argument("project")
@click.argument("queue")
@click.option("--num", "num_tasks", type=int, default=1, show_default=True)
@click.option("--secs", "lease_secs", type=int, default=60, show_default=True)
@click.option("--tag", default=None, help="Only tasks with this tag.")
@_options
def lease_cmd(project, queue, num_tasks, lease_secs, tag, url, as_json, api):
    """Lease tasks, as a worker would."""
    _pull_queues_only(api, "lease")
    params = {"numTasks": num_tasks, "leaseSecs": lease_secs}
    if tag is not None:
        params.update(groupByTag="true", tag=tag)
    items = Client(url, api).call("POST", taskqueue_path(project, queue, "tasks", "lease"),
                             params).get("items", [])
    _out(as_json, items, lambda items: _table(
        [(t["id"], t.get("tag", ""), t["retry_count"], presentation.when(int(t["leaseTimestamp"])),
          base64.b64decode(t.get("payloadBase64", ""))[:40].decode("utf-8", "replace")) for t in items],
        ["TASK", "TAG", "RETRIES", "LEASED UNTIL", "PAYLOAD"]))


@click.command("delete")
@click.argument("project")
@click.argument("queue")
@click.argument("task")
@_options
def delete_cmd(project, queue, task, url, as_json, api):
    """Delete a task."""
    Client(url, api).call("DELETE", admin_path(project, queue, "tasks", task))
    _out(as_json, {"deleted": task}, lambda v: click.echo(f"deleted {task}"))


@click.command("purge")
@click.argument("project")
@click.argument("queue")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_options
def purge_cmd(project, queue, yes, url, as_json, api):
    """Delete every task of a queue, with progress."""
    client = Client(url, api)
    path = admin_path(project, queue)
    summary = client.call("GET", path)
    total = summary["total"] + summary["dead"]
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise click.UsageError("purge deletes every task: confirm with --yes")
        click.confirm(f"Delete all {total} tasks of {project}/{queue}?", abort=True)
    deleted = 0
    with click.progressbar(length=total, label="Purging", file=sys.stderr if as_json else None) as bar:
        while True:
            step = client.call("POST", path + "/purge", {"limit": 2000})
            deleted += step["deleted"]
            bar.update(step["deleted"])
            if not step["remaining"] or not step["deleted"]:
                break
    _out(as_json, {"deleted": deleted}, lambda v: click.echo(f"purged {deleted} tasks"))


@click.command("requeue")
@click.argument("project")
@click.argument("queue")
@click.argument("task", required=False)
@_options
def requeue_cmd(project, queue, task, url, as_json, api):
    """Put a dead-lettered task (or, without TASK, all of them) back in the queue."""
    path = admin_path(project, queue)
    client = Client(url, api)
    if task is not None:
        if not task:
            raise click.UsageError("TASK is empty; leave it out to requeue every dead letter")
        client.call("POST", admin_path(project, queue, "tasks", task, "requeue"))
        count = 1
    else:
        count = 0
        while True:
            step = client.call("POST", path + "/requeueDead", {"limit": 1000})["requeued"]
            count += step
            if not step:
                break
    _out(as_json, {"requeued": count}, lambda v: click.echo(f"requeued {count} tasks"))


def _queue_action(action: str, doc: str):
    @click.command(action)
    @click.argument("project")
    @click.argument("queue")
    @_options
    def command(project, queue, url, as_json, api):
        done = Client(url, api).call("POST", admin_path(project, queue, action))
        _out(as_json, done, lambda d: click.echo(d["message"]))
    command.help = doc
    return command


pause_cmd = _queue_action("pause", "Stop sending a push queue's tasks (use --api cloudtasks, QUEUE as LOCATION:QUEUE).")
resume_cmd = _queue_action("resume", "Send a paused push queue's tasks again.")


@click.command("run")
@click.argument("project")
@click.argument("queue")
@click.argument("task")
@_options
def run_cmd(project, queue, task, url, as_json, api):
    """Send a push task now, even on a paused queue (use --api cloudtasks)."""
    Client(url, api).call("POST", admin_path(project, queue, "tasks", task, "run"))
    _out(as_json, {"run": task}, lambda v: click.echo(f"sent task {task}"))


@click.command("wait-idle")
@click.argument("project")
@click.argument("queue")
@click.option("--timeout", type=float, default=30, show_default=True, help="Seconds before giving up (exit 1).")
@click.option("--within", type=float, default=60, show_default=True,
              help="Push queues: tasks due later than this many seconds from now do not count.")
@_options
def wait_idle_cmd(project, queue, timeout, within, url, as_json, api):
    """Wait until a queue has nothing due or in progress (for scripts and tests)."""
    done = Client(url, api).call("POST", admin_path(project, queue, "waitIdle"),
                                 {"timeoutSeconds": timeout, "withinSeconds": within})
    _out(as_json, done, lambda d: click.echo(f"idle after {d['waitedSeconds']} s"))


@click.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_options
def reset_cmd(yes, url, as_json, api):
    """Forget every queue, task and tombstone of every API, and put the clock back (for tests)."""
    if not yes:
        click.confirm(f"Forget every queue and task at {url}?", abort=True)
    done = Client(url, api).call("POST", "/admin/v1/reset")
    _out(as_json, done, lambda d: click.echo(f"forgot {d['queues']} queues"))


commands = [queues_cmd, tasks_cmd, task_cmd, insert_cmd, lease_cmd, delete_cmd, purge_cmd, requeue_cmd,
            pause_cmd, resume_cmd, run_cmd, wait_idle_cmd, reset_cmd]
