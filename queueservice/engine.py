"""The engine: routes built from discovery documents, checked calls into API modules."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from . import fields as fields_mod
from . import params, schema
from .apis import BoundApi
from .discovery import Method, path_to_rule, snake
from .errors import InvalidArgument, ParseError


@dataclass(frozen=True)
class Route:
    """One werkzeug rule of one API method."""

    api: BoundApi
    method: Method
    rule: str
    variables: dict


def build_routes(apis: list, *, mount_at_root: bool = True) -> list:
    """One rule per method under `/<servicePath>`; optionally again at the host root.

    The root mount serves clients whose `api_endpoint` is the bare host; a rule that
    another API already claims there is left out.
    """
    routes, root_seen = [], set()
    for api in apis:
        for method in api.document.methods:
            template, variables = path_to_rule(method.path)
            routes.append(Route(api, method, "/" + api.document.service_path + template, variables))
    if mount_at_root:
        for api in apis:
            for method in api.document.methods:
                template, variables = path_to_rule(method.path)
                key = (template, method.http_method)
                if key in root_seen:
                    continue
                root_seen.add(key)
                routes.append(Route(api, method, "/" + template, variables))
    return routes


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
    route, document = call.route, call.route.api.document
    method = route.method
    values = {route.variables[k]: v for k, v in call.path_values.items()}
    options = params.check(document.global_parameters, {}, call.query)
    args = params.check(method.parameters, values, call.query)
    selector = options.get("fields")
    tree = fields_mod.parse(selector) if selector else None
    if tree is not None:
        fields_mod.check(tree, method.response, document.schemas, selector)
    kwargs = {snake(name): value for name, value in args.items()}
    if method.request:
        body = parse_json_body(call.body)
        kwargs["body"] = schema.check_body(body, method.request, document.schemas)
    result = route.api.handler(method)(route.api.backend, **kwargs)
    if result is None:
        return 204, None, False
    if tree is not None:
        result = fields_mod.apply(result, tree)
    return 200, result, options.get("prettyPrint", True)
