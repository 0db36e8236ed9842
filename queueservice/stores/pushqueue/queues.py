"""Cloud Tasks queue resources: defaults, checks, updates by field mask, and queue.yaml's push queues
mapped as Google's own tooling maps them (guide sections 1.3, 2.1 and 6d).

A queue is kept as the API's JSON shape with the engine's typed values: durations and times in µs,
rates as floats. Checks raise InvalidArgument with Google's wording where it was recorded.
"""

from __future__ import annotations

import copy
import math
import re

from queueservice.errors import Forbidden, InvalidArgument

SECOND = 1_000_000
QUEUE_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)/queues/([^/]+)")
LOCATION_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)")
#: A project id, a domain-scoped one (`example.com:app`) too; it starts and ends with a letter or digit.
PROJECT_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.:_-]{0,98}[A-Za-z0-9])?")
LOCATION_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?")
QUEUE_ID = re.compile(r"[A-Za-z0-9-]{1,100}")
#: A host name or address (IPv6 in brackets) for httpTarget.uriOverride.host.
HOST = re.compile(r"[A-Za-z0-9._~-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
#: An HTTP header name (RFC 9110 token).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
MAX_DISPATCHES_PER_SECOND = 500.0
MAX_CONCURRENT_DISPATCHES = 5000
STATES = ("RUNNING", "PAUSED", "DISABLED")
#: Fields an update may change (state is changed by pause and resume only; maxBurstSize is derived).
UPDATABLE = ("appEngineRoutingOverride", "httpTarget", "rateLimits", "retryConfig", "stackdriverLoggingConfig")
#: Fields an update mask may name but an update leaves as they are.
OUTPUT_ONLY = ("name", "state", "purgeTime")


def split_name(name: str) -> tuple:
    """(project, location, queue id) of `projects/P/locations/L/queues/Q`, or InvalidArgument;
    a project id that cannot be one is PERMISSION_DENIED, as Google answers a parent it cannot resolve."""
    match = QUEUE_NAME.fullmatch(name or "")
    if not match or not LOCATION_ID.fullmatch(match.group(2)) or not QUEUE_ID.fullmatch(match.group(3)):
        raise InvalidArgument('Queue name must be formatted: '
                              '"projects/<PROJECT_ID>/locations/<LOCATION_ID>/queues/<QUEUE_ID>".')
    check_project(match.group(1))
    return match.groups()


def split_location(name: str) -> tuple:
    """(project, location) of `projects/P/locations/L`, or InvalidArgument (PERMISSION_DENIED for the project)."""
    match = LOCATION_NAME.fullmatch(name or "")
    if not match or not LOCATION_ID.fullmatch(match.group(2)):
        raise InvalidArgument('Location name must be formatted: "projects/<PROJECT_ID>/locations/<LOCATION_ID>".')
    check_project(match.group(1))
    return match.groups()


def check_project(project: str) -> str:
    """The project id, or Google's answer to a project it cannot resolve (guide 1.6, AG)."""
    if not PROJECT_ID.fullmatch(project):
        shown = project if len(project) <= 100 else project[:97] + "..."
        raise Forbidden(f"Permission denied on resource project {shown}.")
    return project


def burst_for(rate: float) -> int:
    """maxBurstSize, output only in v2 and derived from the rate. Google's derivation is not
    documented; its default queue (500/s) reads back 100, legacy queues had buckets of 5, so: the
    rate rounded up, between 1 and 100."""
    return max(1, min(100, math.ceil(rate)))


def default_queue(name: str) -> dict:
    """A queue as Google creates it when the request sets nothing else (guide 2.1)."""
    split_name(name)
    return {"name": name,
            "rateLimits": {"maxDispatchesPerSecond": MAX_DISPATCHES_PER_SECOND, "maxBurstSize": 100,
                           "maxConcurrentDispatches": 1000},
            "retryConfig": {"maxAttempts": 100, "minBackoff": SECOND // 10, "maxBackoff": 3600 * SECOND,
                            "maxDoublings": 16},
            "state": "RUNNING"}


def check(queue: dict) -> dict:
    """The queue, its derived fields set, or InvalidArgument naming the field that is out of range."""
    rates = queue.get("rateLimits") or {}
    rate = rates.get("maxDispatchesPerSecond")
    if rate is not None and not 0 < rate <= MAX_DISPATCHES_PER_SECOND:
        raise InvalidArgument(f"rateLimits.maxDispatchesPerSecond must be more than 0 and at most "
                              f"{MAX_DISPATCHES_PER_SECOND:g}, not {rate:g}")
    concurrent = rates.get("maxConcurrentDispatches")
    if concurrent is not None and not 1 <= concurrent <= MAX_CONCURRENT_DISPATCHES:
        raise InvalidArgument(f"rateLimits.maxConcurrentDispatches must be between 1 and "
                              f"{MAX_CONCURRENT_DISPATCHES}, not {concurrent}")
    retry = queue.get("retryConfig") or {}
    if retry.get("maxAttempts") is not None and retry["maxAttempts"] < -1:
        raise InvalidArgument(f"retryConfig.maxAttempts must be -1 (unlimited) or more, not {retry['maxAttempts']}")
    for field in ("minBackoff", "maxBackoff", "maxRetryDuration"):
        if retry.get(field) is not None and retry[field] < 0:
            raise InvalidArgument(f"retryConfig.{field} must not be negative")
    if retry.get("maxDoublings") is not None and retry["maxDoublings"] < 0:
        raise InvalidArgument("retryConfig.maxDoublings must not be negative")
    if retry.get("minBackoff") is not None and retry.get("maxBackoff") is not None \
            and retry["minBackoff"] > retry["maxBackoff"]:
        raise InvalidArgument("retryConfig.minBackoff must not be more than retryConfig.maxBackoff")
    ratio = (queue.get("stackdriverLoggingConfig") or {}).get("samplingRatio")
    if ratio is not None and not 0.0 <= ratio <= 1.0:
        raise InvalidArgument("stackdriverLoggingConfig.samplingRatio must be between 0.0 and 1.0")
    if queue.get("state", "RUNNING") not in STATES:
        raise InvalidArgument(f"state must be one of {', '.join(STATES)}")
    _check_http_target(queue.get("httpTarget") or {})
    return queue


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def has_control_characters(text: str, allow_tab: bool = False) -> bool:
    """Whether `text` holds a character no URL or header may carry as is (CR and LF would split a request)."""
    return bool((_CONTROL_BUT_TAB if allow_tab else _CONTROL).search(text))


def check_header(key, value, where: str) -> None:
    """A header a task or a queue's httpTarget sends: a token for a name, a value on one line."""
    if not isinstance(key, str) or not HEADER_NAME.fullmatch(key):
        raise InvalidArgument(f"{where}: header name {str(key)[:100]!r} is not a valid HTTP header name")
    if not isinstance(value, str) or has_control_characters(value, allow_tab=True):
        raise InvalidArgument(f"{where}: the value of header {key} must be text on one line")


def _check_http_target(target: dict) -> None:
    override = target.get("uriOverride")
    if override is not None:
        host = override.get("host")
        if host is not None and not HOST.fullmatch(host):
            raise InvalidArgument("httpTarget.uriOverride.host must be a host name such as example.com; "
                                  "it cannot be empty")
        port = override.get("port")
        if port is not None and not 0 <= port <= 65535:
            raise InvalidArgument(f"httpTarget.uriOverride.port must be a positive port number "
                                  f"(0 removes the port), not {port}")
        path = (override.get("pathOverride") or {}).get("path")
        if path and (not path.startswith("/") or " " in path or has_control_characters(path)):
            raise InvalidArgument("httpTarget.uriOverride.pathOverride.path must start with / "
                                  "and hold no spaces or control characters")
        query = (override.get("queryOverride") or {}).get("queryParams")
        if query and (" " in query or "#" in query or has_control_characters(query)):
            raise InvalidArgument("httpTarget.uriOverride.queryOverride.queryParams must hold no spaces, "
                                  "# or control characters")
    for index, item in enumerate(target.get("headerOverrides") or []):
        header = (item or {}).get("header") or {}
        check_header(header.get("key"), header.get("value", ""), f"httpTarget.headerOverrides[{index}]")
    if target.get("oauthToken") and target.get("oidcToken"):
        raise InvalidArgument("httpTarget can have an oauthToken or an oidcToken, not both")


def updated(current: dict, body: dict, mask: list | None) -> dict:
    """`current` changed by an update: the mask's paths from `body` (an empty mask: every value the
    body gives, field by field). `name`, `state` and `purgeTime` are never changed this way, as on
    Google; a rate limit or retry setting the update clears is back to its default."""
    out = copy.deepcopy(current)
    paths = mask or [p for f in UPDATABLE if f in body for p in _leaf_paths(body[f], f)]
    for path in paths:
        top = path.split(".", 1)[0]
        if top not in UPDATABLE and top not in OUTPUT_ONLY:
            raise InvalidArgument(f"updateMask names an unknown field: {path}")
        if top in OUTPUT_ONLY:
            continue
        _set_path(out, path, _get_path(body, path))
    # A field the update cleared (in the mask, not in the body) is back to Google's default, so a
    # queue always has its rate limits and retry settings.
    defaults = default_queue(out["name"]) if "name" in out else {}
    for part in ("rateLimits", "retryConfig"):
        if part in defaults:
            out[part] = {**defaults[part], **(out.get(part) or {})}
    out = {key: out[key] for key in [*current, *out] if key in out}  # fields keep their order
    rate = (out.get("rateLimits") or {}).get("maxDispatchesPerSecond")
    if rate is not None and any(p.startswith("rateLimits") for p in paths):
        out["rateLimits"]["maxBurstSize"] = burst_for(rate)  # output only: an update derives it again
    return check(out)


def _leaf_paths(value, prefix: str) -> list:
    """The paths of every value an update body gives, so that what it leaves out is kept."""
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _leaf_paths(v, f"{prefix}.{k}")]
    return [prefix]


def _get_path(value: dict, path: str):
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _set_path(target: dict, path: str, value) -> None:
    """Set (or, for None, remove) one path; clearing a path makes none of its parents."""
    *parents, leaf = path.split(".")
    for part in parents:
        if not isinstance(target.get(part), dict):
            if value is None:
                return
            target[part] = {}
        target = target[part]
    if value is None:
        target.pop(leaf, None)
    else:
        target[leaf] = copy.deepcopy(value)


_RATE = re.compile(r"([0-9]+(?:\.[0-9]*)?)/([smhd])")
_AGE = re.compile(r"([0-9]+(?:\.[0-9]*)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def from_queue_yaml(entry: dict, name: str) -> dict:
    """A push queue of App Engine's queue.yaml as Cloud Tasks sees it, as `gcloud app deploy` maps it
    (guide 6d): `rate: 0/s` pauses the queue, `task_retry_limit` N allows N + 1 attempts, ages and
    backoffs become whole or rounded seconds, and `target` becomes the App Engine routing override."""
    queue = default_queue(name)
    queue["rateLimits"]["maxConcurrentDispatches"] = 1000
    queue["retryConfig"] = {"maxAttempts": -1, "minBackoff": SECOND // 10, "maxBackoff": 3600 * SECOND,
                            "maxDoublings": 16, "maxRetryDuration": 0}
    rate = entry.get("rate")
    if rate is None:
        raise InvalidArgument(f"queue.yaml queue {name}: a push queue needs a rate such as 5/s")
    match = _RATE.fullmatch(str(rate).strip())
    if not match:
        raise InvalidArgument(f"queue.yaml queue {name}: rate {rate!r} is not like 5/s, 10/m, 100/h or 1/d")
    per_second = round(float(match.group(1)) / _UNIT_SECONDS[match.group(2)], 9)
    if per_second > MAX_DISPATCHES_PER_SECOND:
        raise InvalidArgument(f"queue.yaml queue {name}: rate {rate} is over 500/s")
    if per_second == 0:
        queue["state"] = "PAUSED"
    else:
        queue["rateLimits"]["maxDispatchesPerSecond"] = per_second
        queue["rateLimits"]["maxBurstSize"] = burst_for(per_second)
    if entry.get("bucket_size") is not None:
        queue["rateLimits"]["maxBurstSize"] = min(500, int(entry["bucket_size"]))
    if entry.get("max_concurrent_requests") is not None:
        queue["rateLimits"]["maxConcurrentDispatches"] = min(5000, max(1, int(entry["max_concurrent_requests"])))
    retry = entry.get("retry_parameters") or {}
    if retry.get("task_retry_limit") is not None:
        queue["retryConfig"]["maxAttempts"] = int(retry["task_retry_limit"]) + 1
    if retry.get("task_age_limit") is not None:
        age = _AGE.fullmatch(str(retry["task_age_limit"]).strip())
        if not age or float(age.group(1)) <= 0:
            raise InvalidArgument(f"queue.yaml queue {name}: task_age_limit {retry['task_age_limit']!r} "
                                  "is not a positive age such as 1h or 3m")
        queue["retryConfig"]["maxRetryDuration"] = int(float(age.group(1)) * _UNIT_SECONDS[age.group(2)]) * SECOND
    low, high = retry.get("min_backoff_seconds"), retry.get("max_backoff_seconds")
    if low is not None and high is not None and float(low) > float(high):
        raise InvalidArgument(f"queue.yaml queue {name}: min_backoff_seconds is more than max_backoff_seconds")
    if low is not None:
        queue["retryConfig"]["minBackoff"] = round(round(float(low), 8) * SECOND)
        if high is None:
            queue["retryConfig"]["maxBackoff"] = max(queue["retryConfig"]["maxBackoff"], queue["retryConfig"]["minBackoff"])
    if high is not None:
        queue["retryConfig"]["maxBackoff"] = round(round(float(high), 8) * SECOND)
        if low is None:
            queue["retryConfig"]["minBackoff"] = min(queue["retryConfig"]["minBackoff"], queue["retryConfig"]["maxBackoff"])
    if retry.get("max_doublings") is not None:
        queue["retryConfig"]["maxDoublings"] = int(retry["max_doublings"])
    target = entry.get("target")
    if target:
        parts = str(target).split(".")
        routing = {"service": parts[-1]}
        if len(parts) > 1:
            routing["version"] = parts[0]
        queue["appEngineRoutingOverride"] = routing
    return check(queue)
