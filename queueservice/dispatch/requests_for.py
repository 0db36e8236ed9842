"""The HTTP request Cloud Tasks makes for a task attempt, with the headers recorded from Google
(guide sections 3.1 to 3.3). Pure functions: the dispatcher sends what this builds.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

APP_ENGINE_USER_AGENT = "AppEngine-Google; (+http://code.google.com/appengine)"
HTTP_USER_AGENT = "Google-Cloud-Tasks"
#: Headers a task may not set: Google computes or reserves them.
RESERVED = ("host", "content-length", "user-agent")
RESERVED_PREFIXES = ("x-google-", "x-appengine-", "x-cloudtasks-")


class NoTarget(Exception):
    """An App Engine task with no local URL to go to: APP_ENGINE_URL and APP_ENGINE_SERVICE_URLS
    name none for its service."""


@dataclass(frozen=True)
class Outgoing:
    method: str
    url: str
    headers: dict
    body: bytes


def short(name: str) -> str:
    """The last segment of a resource name: a queue's or a task's id."""
    return name.rsplit("/", 1)[-1]


def eta_seconds(usec: int) -> str:
    """`1551419303.010438`: the schedule time as Google sends it, decimal epoch seconds."""
    seconds, micros = divmod(int(usec), 1_000_000)
    return f"{seconds}.{micros:06d}".rstrip("0").rstrip(".") if micros else str(seconds)


def _task_headers(headers: dict) -> dict:
    return {k: v for k, v in (headers or {}).items()
            if k.lower() not in RESERVED and not k.lower().startswith(RESERVED_PREFIXES)}


def override_url(url: str, override: dict) -> str:
    """The queue's `httpTarget.uriOverride` applied to a task's URL: ALWAYS (the default) replaces
    each given part; IF_NOT_EXISTS only fills parts the URL lacks."""
    parts = urlsplit(url)
    always = override.get("uriOverrideEnforceMode", "ALWAYS") != "IF_NOT_EXISTS"
    scheme = {"HTTP": "http", "HTTPS": "https"}.get(override.get("scheme") or "", "")
    host, port = override.get("host"), override.get("port")
    path = (override.get("pathOverride") or {}).get("path")
    query = (override.get("queryOverride") or {}).get("queryParams")
    new_scheme = scheme if scheme and (always or not parts.scheme) else parts.scheme
    new_host = host if host and (always or not parts.hostname) else parts.hostname
    new_port = port if port and (always or not parts.port) else parts.port
    netloc = f"{new_host}:{new_port}" if new_port else (new_host or "")
    new_path = path if path and (always or parts.path in ("", "/")) else parts.path
    new_query = query if query and (always or not parts.query) else parts.query
    return urlunsplit((new_scheme or "https", netloc, new_path, new_query, ""))


def build(task: dict, queue_name: str, attempts, app_engine_urls: dict, default_app_engine_url: str | None,
          routing_override: dict | None = None, http_target: dict | None = None, token_for=None) -> Outgoing:
    """The request for one attempt of `task` (the stored Task, wire form: body in base64).

    `attempts` counts the attempts before this one (dispatches includes this one, as the store
    claims it). Headers: HTTP targets get X-CloudTasks-*, App Engine targets X-AppEngine-*.
    """
    retries = max(0, attempts.dispatches - 1)
    task_id, queue_id = short(task["name"]), short(queue_name)
    if "appEngineHttpRequest" in task:
        spec = task["appEngineHttpRequest"]
        routing = routing_override or spec.get("appEngineRouting") or {}
        base = app_engine_urls.get(routing.get("service") or "default") or default_app_engine_url
        if not base:
            raise NoTarget(f"App Engine task {task_id} has no URL to go to: set APP_ENGINE_URL, or name "
                           f"service {routing.get('service') or 'default'!r} in APP_ENGINE_SERVICE_URLS")
        url = urljoin(base.rstrip("/") + "/", (spec.get("relativeUri") or "/").lstrip("/"))
        prefix, executions, reason = "X-AppEngine-", attempts.responses, "App Error"
        headers = _task_headers(spec.get("headers"))
        agent = (spec.get("headers") or {}).get("User-Agent")
        headers["User-Agent"] = f"{agent} {APP_ENGINE_USER_AGENT}" if agent else APP_ENGINE_USER_AGENT
        body = base64.b64decode(spec.get("body") or "")
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/octet-stream"
    else:
        spec = dict(task["httpRequest"])
        target = http_target or {}
        url = override_url(spec["url"], target["uriOverride"]) if target.get("uriOverride") else spec["url"]
        if target.get("httpMethod") and target["httpMethod"] != "HTTP_METHOD_UNSPECIFIED":
            spec["httpMethod"] = target["httpMethod"]
        prefix, executions, reason = "X-CloudTasks-", attempts.answers_below_500, ""
        headers = _task_headers(spec.get("headers"))
        for item in target.get("headerOverrides") or []:
            header = (item or {}).get("header") or {}
            if header.get("key") and header["key"].lower() not in RESERVED:
                headers[header["key"]] = header.get("value", "")
        oidc = spec.get("oidcToken") or target.get("oidcToken")
        if oidc and token_for is not None:  # the audience defaults to the URL the task goes to
            headers["Authorization"] = "Bearer " + token_for(oidc.get("audience") or url,
                                                             oidc.get("serviceAccountEmail") or "")
        headers["User-Agent"] = HTTP_USER_AGENT
        body = base64.b64decode(spec.get("body") or "")
    headers.update({
        prefix + "QueueName": queue_id,
        prefix + "TaskName": task_id,
        prefix + "TaskRetryCount": str(retries),
        prefix + "TaskExecutionCount": str(executions),
        prefix + "TaskETA": eta_seconds(attempts.last_schedule_usec),
    })
    if retries:
        if attempts.last_status >= 0:
            headers[prefix + "TaskPreviousResponse"] = str(attempts.last_status)
        headers[prefix + "TaskRetryReason"] = reason
    return Outgoing(method=(spec.get("httpMethod") or "POST").upper(), url=url, headers=headers, body=body)


def parse_service_urls(raw: str | None) -> dict:
    """APP_ENGINE_SERVICE_URLS: `service=url,service2=url2` -> {service: url}."""
    out = {}
    for item in (raw or "").split(","):
        if item.strip():
            service, sep, url = item.partition("=")
            if not sep or not url.strip().startswith(("http://", "https://")):
                raise ValueError(f"APP_ENGINE_SERVICE_URLS entry {item.strip()!r} is not service=http://host:port")
            out[service.strip()] = url.strip()
    return out
