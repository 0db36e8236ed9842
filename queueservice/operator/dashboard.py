"""The dashboard: server-rendered pages to watch and steer the queues (no build step, no CDN)."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for

from queueservice.errors import ApiError, InvalidArgument

from queueservice.operator import presentation

PAGE_SIZE = 50
QUEUES_PAGE_SIZE = 100
REQUEUE_STEP = 5000
#: Pages of a queue and of a task, by the kind of queue (pull queues: the others).
PAGES = {"cloudtasks": ("push_queue.html", "push_task.html")}
DEFAULT_PAGES = ("queue.html", "task.html")


def redirect_target(target: str | None) -> str | None:
    """A form's `next`, checked before the action runs: a path of this dashboard, or InvalidArgument.

    Anything else (another site, `//host`, a backslash, control characters such as CR/LF that
    would split the Location header) is refused with a 400 rather than followed.
    """
    if not target:
        return None
    parts = urlsplit(target)
    if (not target.startswith("/dashboard/") or target.startswith("//") or "\\" in target
            or any(seg in (".", "..") for seg in parts.path.split("/"))
            or parts.scheme or parts.netloc or any(ord(c) < 0x20 or ord(c) == 0x7f for c in target)
            or len(target) > 2000):
        raise InvalidArgument("The form's 'next' must be a path of this dashboard (/dashboard/...); "
                              "the action was not run")
    return target


def blueprint(ops) -> Blueprint:
    """The pages, on the operator operations (`ops`), the same the admin API answers with."""
    pages = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
                      static_folder="static", static_url_path="/static")

    def api_of() -> str:
        """The kind of queue a page is about: `?api=` (default the pull queues)."""
        return request.args.get("api") or "taskqueue"

    @pages.url_defaults
    def _keep_api(endpoint, values):
        """Links and forms of a page about another kind of queue keep saying which kind."""
        if endpoint != "dashboard.static" and "api" not in values and request and api_of() != "taskqueue":
            values["api"] = api_of()

    @pages.errorhandler(Exception)
    def _any_error(exc):
        """Every failure as an HTML page (a Redis outage too), with the status the API would answer."""
        from queueservice.engine.app import to_api_error

        error = to_api_error(exc)
        return render_template("error.html", status=error.status, message=error.message), error.status

    @pages.errorhandler(404)
    def _not_found(exc):
        return render_template("error.html", status=404, message="No such page."), 404

    @pages.app_template_filter("when")
    def _when(usec):
        return presentation.when(usec)

    @pages.app_template_filter("age")
    def _age(usec, now_usec):
        return presentation.age(usec, now_usec)

    @pages.app_template_filter("relative")
    def _relative(usec, now_usec):
        return presentation.relative(usec, now_usec)

    @pages.route("/<path:unknown>")
    def _no_such_page(unknown):
        abort(404)

    @pages.route("/")
    def overview():
        """One page of queues (QUEUES_PAGE_SIZE), counted in one round trip, so thousands stay fast."""
        offset = max(0, request.args.get("offset", 0, type=int))
        listing = ops.queues(offset, QUEUES_PAGE_SIZE)
        if offset and offset >= listing["total"]:  # past the end: the last page
            offset = max(0, listing["total"] - 1) // QUEUES_PAGE_SIZE * QUEUES_PAGE_SIZE
            listing = ops.queues(offset, QUEUES_PAGE_SIZE)
        return render_template("overview.html", queues=listing["items"], now=ops.now_usec(), offset=offset,
                               total=listing["total"], page_size=QUEUES_PAGE_SIZE)

    @pages.route("/q/<project>/<queue>")
    def queue_page(project, queue):
        kind, ref = ops.ref(project, queue, api_of())
        state = request.args.get("state", "all")
        if state not in kind.states:
            state = "all"
        tag = request.args.get("tag") or None
        offset = min(max(0, request.args.get("offset", 0, type=int)), 10**9)
        page = ops.tasks(ref.project, ref.queue, state, offset, PAGE_SIZE, tag, ref.api)
        rows = [(t, t["state"]) for t in page["items"]]

        def link(**changes):
            args = {"state": state, "tag": tag or "", "offset": offset, **changes}
            return url_for(".queue_page", project=ref.project, queue=ref.queue,
                           **{k: v for k, v in args.items() if v not in ("", None, 0) or k == "state"})

        template = PAGES.get(kind.api, DEFAULT_PAGES)[0]
        return render_template(template, keys=ref, stats=ops.queue(ref.project, ref.queue, ref.api), rows=rows,
                               state=state, tag=tag or "", offset=offset, page_size=PAGE_SIZE,
                               total=page.get("total"), now=page["now"], states=kind.states, link=link,
                               queue_actions=kind.queue_actions)

    @pages.route("/q/<project>/<queue>/t/<task>")
    def task_page(project, queue, task):
        queue_kind, ref = ops.ref(project, queue, api_of())
        found = ops.task(ref.project, ref.queue, task, ref.api)
        payload = base64.b64decode(found.get("payloadBase64", ""))
        kind, text = presentation.preview(payload)
        template = PAGES.get(queue_kind.api, DEFAULT_PAGES)[1]
        return render_template(template, keys=ref, task=found, state=found["state"], kind=kind, preview=text,
                               payload_size=len(payload), events=found["history"], now=found["now"],
                               tag=found.get("tag", ""))

    def act(project, queue, action):
        """Run a form's action, then go back with its outcome in the URL (no session needed)."""
        _, ref = ops.ref(project, queue, api_of())
        target = redirect_target(request.form.get("next")) or url_for(
            ".queue_page", project=ref.project, queue=ref.queue)
        try:
            outcome = {"msg": action(ref), "level": "ok"}
        except ApiError as exc:
            outcome = {"msg": exc.message, "level": "error"}
        path, _, query = target.partition("?")
        kept = [(k, v) for k, v in parse_qsl(query) if k not in ("msg", "level")]
        return redirect(path + "?" + urlencode(kept + list(outcome.items())), code=303)

    @pages.post("/q/<project>/<queue>/t/<task>/<action>")
    def task_action(project, queue, task, action):
        kind, _ = ops.ref(project, queue, api_of())
        if action not in kind.task_actions:
            abort(404)

        def run(ref):
            ops.act(ref.project, ref.queue, action, task, ref.api)
            return kind.task_actions[action].format(task)
        return act(project, queue, run)

    @pages.post("/q/<project>/<queue>/do/<action>")
    def queue_action(project, queue, action):
        kind, _ = ops.ref(project, queue, api_of())
        if action not in kind.queue_actions:
            abort(404)
        return act(project, queue, lambda ref: ops.act_on_queue(ref.project, ref.queue, action, ref.api))

    @pages.post("/q/<project>/<queue>/requeue-dead")
    def requeue_dead(project, queue):
        def run(ref):
            """At most REQUEUE_STEP per click (one script call), well inside gunicorn's timeout."""
            done = ops.requeue_dead(ref.project, ref.queue, REQUEUE_STEP, ref.api)
            left = done["remaining"]
            return f"Requeued {done['requeued']} dead-lettered tasks" + (f"; {left} left." if left else ".")
        return act(project, queue, run)

    @pages.post("/q/<project>/<queue>/insert")
    def insert(project, queue):
        def run(ref):
            name = request.form.get("id", "").strip() or None
            delay = request.form.get("delay", "0").strip() or "0"
            if not re.fullmatch(r"[0-9]{1,9}", delay):
                raise InvalidArgument("The delay must be a whole number of seconds")
            task = ops.insert(ref.project, ref.queue, name, request.form.get("payload", "").encode("utf-8"),
                              request.form.get("tag") or None, min(int(delay), 10 * 365 * 86400), ref.api)
            return f"Inserted task {task['id']}."
        return act(project, queue, run)

    return pages
