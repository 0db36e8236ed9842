"""The engine: routes built from discovery documents, checked calls into API modules."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import orjson

from queueservice.engine import fields as fields_mod
from queueservice.engine import failures
from queueservice.engine import metrics
from queueservice.engine import schema
from queueservice.engine import wire
from queueservice.engine.binding import BoundApi
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BaseConverter

from queueservice.engine.discovery import DocumentError, Method, bare_pattern, path_regex, path_to_rule, sample_path
from queueservice.errors import InvalidArgument, ParseError

access_log = logging.getLogger("queueservice.access")


@dataclass(frozen=True)
class Route:
    """One werkzeug rule of one API method; an alias (see BoundApi.aliases) may run another
    handler and reshape the answer."""

    api: BoundApi
    method: Method
    rule: str
    variables: dict
    alias: object = None


class PatternConverters:
    """One werkzeug converter per distinct `{+x}` pattern (`p0`, `p1`, ...), for app.url_map."""

    def __init__(self):
        self.by_pattern = {}

    def __call__(self, pattern: str) -> str:
        if pattern not in self.by_pattern:
            self.by_pattern[pattern] = f"p{len(self.by_pattern)}"
        return self.by_pattern[pattern]

    def classes(self) -> dict:
        """{name: converter class} for `app.url_map.converters`."""
        out = {}
        for pattern, name in self.by_pattern.items():
            regex = bare_pattern(pattern)
            out[name] = type(f"PatternConverter_{name}", (BaseConverter,),
                             {"regex": regex, "part_isolating": "/" not in regex})
        return out


def build_routes(apis: list, converters: PatternConverters | None = None) -> list:
    """One rule per method under `/<servicePath>`; again at the host root for documents that
    opt in (`x-mountAtRoot`), where a rule that another API already claims is left out.

    Raises DocumentError when two methods of one verb would answer the same URLs.
    """
    converters = converters if converters is not None else PatternConverters()
    routes, root_seen = [], set()
    for api in apis:
        for method in api.document.methods:
            template, variables = path_to_rule(method.path, method.parameters, converters)
            routes.append(Route(api, method, "/" + api.document.service_path + template, variables))
    _refuse_ambiguous(apis)
    for api in apis:
        if not api.document.mount_at_root:
            continue
        for method in api.document.methods:
            template, variables = path_to_rule(method.path, method.parameters, converters)
            key = (template, method.http_method)
            if key in root_seen:
                continue
            root_seen.add(key)
            routes.append(Route(api, method, "/" + template, variables))
    for api in apis:
        for method in api.document.methods:
            for alias in api.aliases.get(method.id, ()):
                template, variables = path_to_rule(alias.path, method.parameters, converters)
                routes.append(Route(api, method, "/" + template, variables, alias))
    return routes


def _refuse_ambiguous(apis: list) -> None:
    """Two methods are ambiguous when each one's URLs match the other's template (same verb):
    a static segment beats a variable (`tasks/lease` vs `tasks/{task}`), nothing else decides."""
    entries = []
    for api in apis:
        for m in api.document.methods:
            entries.append((m, "/" + api.document.service_path, path_regex(m.path, m.parameters),
                            sample_path(m.flat_path or m.path)))
    for i, (a, base_a, regex_a, sample_a) in enumerate(entries):
        for b, base_b, regex_b, sample_b in entries[i + 1:]:
            if a.http_method != b.http_method or base_a != base_b:
                continue
            if regex_b.fullmatch(sample_a) and regex_a.fullmatch(sample_b):
                raise DocumentError(f"{a.id} and {b.id} both answer {a.http_method} /{base_a.strip('/')}"
                                    f"{'/' if base_a.strip('/') else ''}{a.path}: give their {{+x}} "
                                    "parameters patterns that tell them apart")


def parse_json_body(data: bytes):
    """Decode a JSON request body strictly (UTF-8, no NaN or Infinity, bounded nesting): an object."""
    if not data.strip():
        return {}
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"Parse Error: the request body is not valid JSON ({_short(exc)})") from None
    if not isinstance(value, dict):
        raise InvalidArgument("The request body must be a JSON object", location_type="body")
    return value


def _short(exc) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass
class Call:
    """What one HTTP request asks of one method, before it is checked."""

    route: Route
    path_values: dict
    query: object
    body: bytes


def invoke(call: Call):
    """Check the call against the document, run the handler, shape its answer.

    Returns (status, JSON-able value or None, pretty). Raises ApiError.
    """
    route, api = call.route, call.route.api
    document, method = api.document, route.method
    parameters = api.parameters[method.id]
    values = {route.variables[k]: v for k, v in call.path_values.items()}
    query, alt_options = system_parameters(call.query, document.global_parameters)
    options = api.global_parameters.check({}, query)
    args = parameters.check(values, query)
    selector = options.get("fields")
    tree = fields_mod.parse(selector) if selector else None
    if tree is not None:
        fields_mod.check(tree, method.response, document.schemas, selector)
    python_names = parameters.python_names
    kwargs = {python_names[name]: value for name, value in args.items()}
    if method.request:
        body = parse_json_body(call.body)
        kwargs["body"] = schema.check_body(body, method.request, document.schemas)
    handler = route.alias.handler if route.alias is not None and route.alias.handler else api.handler(method)
    result = handler(api.backend, **kwargs)
    if result is None:
        if api.empty_answer is None:
            return 204, None, False
        result = api.empty_answer
    result = wire.shape(result, method.response, document, enum_ints=alt_options.get("enum-encoding") == "int",
                        int64_strings=api.int64_as_strings)
    if tree is not None:
        result = fields_mod.apply(result, tree)
    if route.alias is not None and route.alias.answer is not None:
        result = route.alias.answer(result)
    return 200, result, options.get("prettyPrint", True)


def run(call: Call):
    """`invoke`, timed, counted in the metrics and written to the access log, whatever the
    transport that carried the call. Returns what invoke returns; re-raises what it raises."""
    started, status = time.perf_counter(), 500
    try:
        status, value, pretty = invoke(call)
        return status, value, pretty
    except BaseException as exc:
        status = failures.status_of(exc)
        raise
    finally:
        elapsed = time.perf_counter() - started
        method_id = call.route.method.id
        metrics.observe(method_id, status, elapsed)
        if access_log.isEnabledFor(logging.INFO):
            where = " ".join(f"{call.route.variables[k]}={v}" for k, v in call.path_values.items())
            access_log.info("%s %s status=%d %.1fms", method_id, where, status, elapsed * 1000)


def system_parameters(query, global_parameters: dict):
    """System parameters as Google takes them: also `$`-prefixed (`$alt`, `%24alt`), and `alt`
    with options after `;` (`json;enum-encoding=int`, as the official REST clients send).

    Returns the query (a MultiDict) with those names plain and alt bare, and alt's options."""
    if not query:
        return query, {}
    renamed = [k for k in query if k.startswith("$") and k not in global_parameters
               and k[1:] in global_parameters]
    # (`in` first: a MultiDict's get of a missing key raises and catches an HTTP exception inside)
    alt = query.get("alt") if "alt" in query else query.get("$alt") if "$alt" in query else None
    if not renamed and (alt is None or ";" not in alt):
        return query, {}
    plain = MultiDict()
    for key, value in query.items(multi=True):
        plain.add(key[1:] if key in renamed else key, value)
    options = {}
    if alt is not None and ";" in alt:
        base, *rest = alt.split(";")
        plain.setlist("alt", [base])
        options = dict(part.partition("=")[::2] for part in rest)
    return plain, options
