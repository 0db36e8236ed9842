"""The Flask application: API routes from discovery, discovery endpoints, batch, health, errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from flask import Flask, Response, redirect, request
from werkzeug.exceptions import HTTPException

from queueservice.engine import binding as apis_mod
from queueservice.engine import batch
from queueservice.engine import discovery_views
from queueservice.engine import failures
from queueservice.engine import hosts
from queueservice.engine import metrics
from queueservice.redis_helpers import connection as redis_conn
from queueservice.config import Settings
from queueservice.services import Services
from queueservice.engine.calls import Call, PatternConverters, build_routes, run
from queueservice.errors import (
    ApiError,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from queueservice.engine.request_body import read_body
from queueservice.engine.responses import error_response, json_response

log = logging.getLogger("queueservice")


@dataclass
class Engine:
    """What the views share: settings, the Redis client, the bound APIs and their routes, and the
    process's long-lived services (started and stopped with the serving process)."""

    settings: Settings
    redis: object
    apis: list
    routes: dict
    collectors: list = field(default_factory=list)
    services: Services | None = None


def engine() -> Engine:
    from flask import current_app

    return current_app.extensions["queueservice"]


def to_api_error(exc: BaseException) -> ApiError:
    """The one place where every exception of an HTTP request becomes a Google error."""
    if isinstance(exc, HTTPException) and not isinstance(exc, ApiError):
        code = exc.code or 500
        if code == 404:
            return NotFound(f"Not Found: {request.method} {request.path}")
        if code == 405:
            return MethodNotAllowed(f"Method {request.method} is not allowed on {request.path}")
        if code == 413:
            return PayloadTooLarge("The request body is larger than this server accepts")
        if code < 500:
            err = InvalidArgument(exc.description or "Bad request")
            err.status = code
            return err
    return failures.api_error_of(exc, f"{request.method} {request.path}")


def create_app(settings: Settings | None = None, redis_client=None) -> Flask:
    """Build the service: load each served API's document and module, bind them, and route them."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = redis_client
    if client is None:
        client = redis_conn.connect(settings)
        if not settings.embedded:
            redis_conn.check_policy_at_start(client)
    services = Services(settings, client)
    bound = [apis_mod.bind(doc, module, services) for doc, module in apis_mod.load_apis(settings.served_apis)]
    converters = PatternConverters()
    routes = build_routes(bound, converters)

    app = Flask(__name__)
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.url_map.converters.update(converters.classes())
    eng = Engine(settings=settings, redis=client, apis=bound, routes={}, services=services)
    app.extensions["queueservice"] = eng

    for index, route in enumerate(routes):
        endpoint = f"{route.method.id}#{index}"
        eng.routes[endpoint] = route
        app.add_url_rule(route.rule, endpoint=endpoint, view_func=_api_view,
                         methods=[route.method.http_method])

    discovery_routes = discovery_views.views(bound)
    for rule, view in discovery_routes:
        app.add_url_rule(rule, endpoint="discovery:" + rule, view_func=view, methods=["GET"])
    batch_paths = {"/" + a.document.batch_path for a in bound if a.document.batch_path}
    batch_paths |= {f"/batch/{a.document.name}/{a.document.version}" for a in bound}
    for path in sorted(batch_paths):
        app.add_url_rule(path, endpoint="batch:" + path, view_func=batch.view, methods=["POST"])
    app.add_url_rule("/healthz", view_func=_healthz, methods=["GET"])
    app.add_url_rule("/metrics", view_func=_metrics, methods=["GET"])
    app.add_url_rule("/", view_func=lambda: redirect("/dashboard/"), methods=["GET"])
    for api in bound:
        pages = getattr(api.module, "web_pages", None)
        if callable(pages):
            app.register_blueprint(pages(api.backend))
        collector = getattr(api.module, "metrics_collector", None)
        if callable(collector):
            eng.collectors.append(collector(api.backend))

    @app.before_request
    def _same_origin_only():
        """A web page elsewhere must not change queues through the developer's browser (CSRF)."""
        hosts.check_same_origin(request.method, request.headers, request.host)

    # An unknown path or verb under an API's own first segment (`/v2/...`) is answered in that
    # API's error body; elsewhere in the v1 body.
    formats_by_prefix = {}
    for route in eng.routes.values():
        first = route.rule.lstrip("/").split("/", 1)[0]
        if first and "<" not in first:
            formats_by_prefix.setdefault(first.split(":", 1)[0], route.api.error_format)

    @app.errorhandler(Exception)
    def _handle(exc):
        pretty = request.args.get("prettyPrint", "true").lower() != "false"
        route = eng.routes.get(request.url_rule.endpoint) if request.url_rule is not None else None
        form = route.api.error_format if route else formats_by_prefix.get(
            request.path.lstrip("/").split("/", 1)[0], "v1")
        return error_response(to_api_error(exc), pretty=pretty, form=form, xgafv=request.args.get("$.xgafv"))

    app.wsgi_app = hosts.HostGuard(method_override(app.wsgi_app), settings.allowed_hosts, error_response)
    return app


_OVERRIDABLE = {"GET", "PUT", "PATCH", "DELETE"}


def method_override(wsgi_app):
    """A POST with `X-HTTP-Method-Override` is that method, as Google's front end took it
    (google-api-java-client sends PATCH this way on transports without PATCH)."""

    def wrapped(environ, start_response):
        wanted = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").strip().upper()
        if environ.get("REQUEST_METHOD") == "POST" and wanted in _OVERRIDABLE:
            environ["REQUEST_METHOD"] = wanted
        return wsgi_app(environ, start_response)

    return wrapped


def _api_view(**path_values):
    eng = engine()
    route = eng.routes[request.url_rule.endpoint]
    data = read_body(eng.settings.max_request_bytes) if route.method.request else b""
    status, value, pretty = run(Call(route, path_values, request.args, data))
    return json_response(value, status=status, pretty=pretty)


def _metrics():
    return Response(metrics.render(engine().collectors), content_type=metrics.CONTENT_TYPE)


def _healthz():
    """200 when the store answers and can keep tasks; 503 with `problem` when it cannot."""
    eng = engine()
    body = {"status": "ok", "store": "embedded" if eng.settings.embedded else "redis"}
    problem = None
    if not redis_conn.ping(eng.redis):
        problem = "The task store is unavailable"
    elif not eng.settings.embedded:
        try:
            problem = redis_conn.memory_problem(eng.redis)
        except redis_conn.UNAVAILABLE_ERRORS:
            problem = "The task store is unavailable"
    if problem:
        body.update(status="unavailable", problem=problem)
    else:
        body["services"] = eng.services.health()
        failing = [n for n, h in body["services"].items() if h.get("status") != "ok"]
        if failing:
            body.update(status="unavailable", problem=f"Service {failing[0]} is unavailable")
            problem = body["problem"]
    return json_response(body, status=503 if problem else 200)
