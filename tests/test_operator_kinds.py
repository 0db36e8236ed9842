"""The operator tools work on any kind of queue a store offers: a second kind, registered beside the
pull queues, appears in the admin API, the dashboard and the metrics through the same interface."""

from __future__ import annotations

import re

import pytest

from queueservice.errors import NotFound
from queueservice.operator.interface import QueueRef


class ListQueues:
    """A tiny QueueKind over a dict: the interface's fixture, as the engine tests have fixture APIs."""

    api = "memq"
    states = ("all", "waiting", "done")
    task_actions = {"finish": "Finished task {}."}
    queue_actions = {}

    def __init__(self):
        self.tasks = {("demo", "jobs"): {"t1": "waiting", "t2": "done"}}

    def queues(self):
        return [QueueRef(self.api, p, q) for p, q in sorted(self.tasks)]

    def resolve(self, project, queue):
        if (project, queue) not in self.tasks:
            raise NotFound(f"No queue {queue}")
        return QueueRef(self.api, project, queue)

    def summaries(self, refs, skip_idle=False):
        out = []
        for ref in refs:
            states = list(self.tasks[(ref.project, ref.queue)].values())
            out.append({"api": self.api, "project": ref.project, "queue": ref.queue, "total": len(states),
                        "waiting": states.count("waiting"), "done": states.count("done")})
        return out

    def browse(self, ref, state, offset, limit, tag):
        tasks = self.tasks[(ref.project, ref.queue)]
        items = [{"id": n, "state": s, "retryCount": 0, "enqueueTimestamp": 0, "leaseTimestamp": 0}
                 for n, s in sorted(tasks.items()) if state in ("all", s)]
        return {"items": items[offset:offset + limit], "offset": offset, "now": 0}

    def act(self, ref, action, name):
        self.tasks[(ref.project, ref.queue)][name] = "done"

    def pending(self, ref, within_usec):
        return list(self.tasks[(ref.project, ref.queue)].values()).count("waiting")

    def reset(self):
        count, self.tasks = len(self.tasks), {}
        return count

    def now_usec(self):
        return 0

    def nudge(self):
        pass


@pytest.fixture
def kind(app):
    services = app.extensions["queueservice"].services
    return services.get("memq", lambda _: type("MemQ", (), {"operator_kind": ListQueues()})()).operator_kind


def test_the_admin_api_lists_and_browses_another_kind(client, kind):
    listed = client.get("/admin/v1/queues").get_json()["items"]
    assert {"api": "memq", "project": "demo", "queue": "jobs", "total": 2, "waiting": 1, "done": 1} in listed
    tasks = client.get("/admin/v1/projects/demo/queues/jobs/tasks?api=memq&state=waiting").get_json()
    assert [t["id"] for t in tasks["items"]] == ["t1"]
    # Without api=, a queue is a pull queue, whose states are others.
    assert client.get("/admin/v1/projects/demo/queues/jobs/tasks?state=waiting").status_code == 400


def test_the_dashboard_shows_and_steers_another_kind(client, kind):
    overview = client.get("/dashboard/").get_data(as_text=True)
    assert "/dashboard/q/demo/jobs?api=memq" in overview
    page = client.get("/dashboard/q/demo/jobs?api=memq").get_data(as_text=True)
    assert re.search(r'href="/dashboard/q/demo/jobs\?[^"]*state=waiting[^"]*api=memq|api=memq[^"]*state=waiting', page)
    assert "t1" in page and "t2" in page
    done = client.post("/dashboard/q/demo/jobs/t/t1/finish?api=memq", data={}, follow_redirects=False)
    assert done.status_code == 303 and "Finished+task+t1" in done.headers["Location"]
    assert kind.tasks[("demo", "jobs")]["t1"] == "done"


def test_metrics_label_each_kind(client, kind):
    text = client.get("/metrics").get_data(as_text=True)
    assert 'queueservice_tasks{api="memq",project="demo",queue="jobs",state="done"} 1.0' in text


def test_wait_idle_and_reset_work_on_any_kind(client, kind):
    busy = client.post("/admin/v1/projects/demo/queues/jobs/waitIdle?api=memq&timeoutSeconds=0.05")
    assert busy.status_code == 504 and "1 tasks" in busy.get_json()["error"]["message"]
    client.post("/dashboard/q/demo/jobs/t/t1/finish?api=memq", data={})
    assert client.post("/admin/v1/projects/demo/queues/jobs/waitIdle?api=memq").get_json()["idle"] is True
    assert client.post("/admin/v1/reset").status_code == 200
    assert kind.tasks == {}
