"""The dashboard: server-rendered pages to watch and steer the pull queues (no build step, no CDN)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for

from queueservice.errors import ApiError, InvalidArgument

from queueservice.operator import presentation
from queueservice.stores.pullqueue.rules import MAX_PAYLOAD_BYTES, project_id, queue_config, tag_bytes, task_name
from queueservice.stores.pullqueue.store import STATES, state_of

PAGE_SIZE = 50
QUEUES_PAGE_SIZE = 100
REQUEUE_STEP = 5000


def redirect_target(target: str | None) -> str | None:
    """A form's `next`, checked before the action runs: a path of this dashboard, or InvalidArgument.

    Anything else (another site, `//host`, a backslash, control characters such as CR/LF that
    would split the Location header) is refused with a 400 rather than followed.
    """
    if not target:
        return None
    parts = urlsplit(target)
    if (not target.startswith("/dashboard/") or target.startswith("//") or "\\" in target
            or parts.scheme or parts.netloc or any(ord(c) < 0x20 or ord(c) == 0x7f for c in target)
            or len(target) > 2000):
        raise InvalidArgument("The form's 'next' must be a path of this dashboard (/dashboard/...); "
                              "the action was not run")
    return target


def blueprint(backend) -> Blueprint:
    pages = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
                      static_folder="static", static_url_path="/static")
    store = backend.store

    def keys_for(project, queue):
        queue_config(backend.queues, queue, location="queue")
        return store.keys(project_id(project), queue)

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

    def served(keys) -> bool:
        try:
            backend.queues.resolve(keys.queue)
        except ApiError:  # a queue no longer in QUEUE_CONFIG is left out
            return False
        return True

    @pages.route("/")
    def overview():
        """One page of queues (QUEUES_PAGE_SIZE), counted in one round trip, so thousands stay fast."""
        if backend.forgetter:
            backend.forgetter.nudge()
        queues = store.queues()
        if backend.queues.configured is not None:
            queues = [k for k in queues if served(k)]
        offset = min(max(0, request.args.get("offset", 0, type=int)), max(0, len(queues) - 1))
        page = queues[offset:offset + QUEUES_PAGE_SIZE]
        rows = [{"project": k.project, "queue": k.queue, "available": st.available, "leased": st.leased,
                 "delayed": st.delayed, "dead": st.dead_lettered, "leasedLastMinute": st.leased_last_minute,
                 "leasedLastHour": st.leased_last_hour, "oldestTask": st.oldest_task_usec}
                for k, st in zip(page, store.summaries(page))]
        return render_template("overview.html", queues=rows, now=store.now_usec(), offset=offset,
                               total=len(queues), page_size=QUEUES_PAGE_SIZE)

    @pages.route("/q/<project>/<queue>")
    def queue_page(project, queue):
        keys = keys_for(project, queue)
        state = request.args.get("state", "all")
        if state not in STATES:
            state = "all"
        tag = request.args.get("tag") or None
        offset = min(max(0, request.args.get("offset", 0, type=int)), 10**9)
        page = store.browse(keys, state, offset, PAGE_SIZE, tag=tag.encode() if tag else None)
        rows = [(t, "dead" if state == "dead" else state_of(t, page.now_usec)) for t in page.tasks]
        stats = store.stats(keys)

        def link(**changes):
            args = {"state": state, "tag": tag or "", "offset": offset, **changes}
            return url_for(".queue_page", project=keys.project, queue=keys.queue) + "?" + urlencode(
                {k: v for k, v in args.items() if v not in ("", None, 0) or k == "state"})

        return render_template("queue.html", keys=keys, stats=stats, rows=rows, state=state, tag=tag or "",
                               offset=offset, page_size=PAGE_SIZE, total=page.total, now=page.now_usec,
                               states=STATES, link=link, config=backend.queues.resolve(keys.queue))

    @pages.route("/q/<project>/<queue>/t/<task>")
    def task_page(project, queue, task):
        keys = keys_for(project, queue)
        found, state, now = store.inspect(keys, task_name(task))
        kind, text = presentation.preview(found.payload or b"")
        events = [e for e in store.history(keys, found.name, 200) if e.at_usec >= found.enqueue_usec]
        return render_template("task.html", keys=keys, task=found, state=state, kind=kind, preview=text,
                               payload_size=len(found.payload or b""),
                               events=events, now=now,
                               tag=found.tag.decode("utf-8", "replace"))

    def act(project, queue, action):
        """Run a form's action, then go back with its outcome in the URL (no session needed)."""
        keys = keys_for(project, queue)
        target = redirect_target(request.form.get("next")) or url_for(
            ".queue_page", project=keys.project, queue=keys.queue)
        try:
            outcome = {"msg": action(keys), "level": "ok"}
        except ApiError as exc:
            outcome = {"msg": exc.message, "level": "error"}
        path, _, query = target.partition("?")
        kept = [(k, v) for k, v in parse_qsl(query) if k not in ("msg", "level")]
        return redirect(path + "?" + urlencode(kept + list(outcome.items())), code=303)

    task_actions = {
        "delete": (lambda keys, name: store.delete(keys, name), "Deleted task {}."),
        "release": (lambda keys, name: store.renew(keys, name, 0), "Released the lease on task {}."),
        "requeue": (lambda keys, name: store.requeue(keys, name), "Requeued task {}."),
    }

    @pages.post("/q/<project>/<queue>/t/<task>/<action>")
    def task_action(project, queue, task, action):
        if action not in task_actions:
            abort(404)
        run, message = task_actions[action]

        def act_on(keys):
            run(keys, task_name(task))
            return message.format(task)
        return act(project, queue, act_on)

    @pages.post("/q/<project>/<queue>/requeue-dead")
    def requeue_dead(project, queue):
        def run(keys):
            """At most REQUEUE_STEP per click, so one request stays well inside gunicorn's timeout."""
            page = store.browse(keys, "dead", 0, REQUEUE_STEP)
            for task in page.tasks:
                store.requeue(keys, task.name)
            left = store.stats(keys).dead_lettered
            return f"Requeued {len(page.tasks)} dead-lettered tasks" + (f"; {left} left." if left else ".")
        return act(project, queue, run)

    @pages.post("/q/<project>/<queue>/insert")
    def insert(project, queue):
        def run(keys):
            import secrets

            name = request.form.get("id", "").strip() or secrets.token_urlsafe(16)
            payload = request.form.get("payload", "").encode("utf-8")
            if len(payload) > MAX_PAYLOAD_BYTES:
                raise InvalidArgument(f"The payload is larger than {MAX_PAYLOAD_BYTES} bytes")
            delay = request.form.get("delay", "0").strip() or "0"
            if not re.fullmatch(r"[0-9]{1,9}", delay):
                raise InvalidArgument("The delay must be a whole number of seconds")
            store.insert(keys, task_name(name, "id"), payload, tag=tag_bytes(request.form.get("tag") or None),
                         delay_secs=min(int(delay), 10 * 365 * 86400))
            return f"Inserted task {name}."
        return act(project, queue, run)

    return pages
