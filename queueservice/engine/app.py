"""The Flask application: API routes from discovery, discovery endpoints, batch, health, errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from flask import Flask, Response, redirect
from flask import request as flask_request
from flask import signals
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import RoutingException

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
from queueservice.engine.responses import error_response, json_response, wsgi_json

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


def to_api_error(exc: BaseException, req=None) -> ApiError:
    """The one place where every exception of an HTTP request (`req`, by default Flask's) becomes
    a Google error."""
    request = req if req is not None else flask_request
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
        hosts.check_same_origin(flask_request)

    # An unknown path or verb under an API's own first segment (`/v2/...`) is answered in that
    # API's error body; elsewhere in the v1 body.
    formats_by_prefix = {}
    for route in eng.routes.values():
        first = route.rule.lstrip("/").split("/", 1)[0]
        if first and "<" not in first:
            formats_by_prefix.setdefault(first.split(":", 1)[0], route.api.error_format)

    def render_error(exc, req):
        """Google's error body for an exception of the request `req`, in its API's format."""
        pretty = req.args.get("prettyPrint", "true").lower() != "false"
        route = eng.routes.get(req.url_rule.endpoint) if req.url_rule is not None else None
        form = route.api.error_format if route else formats_by_prefix.get(
            req.path.lstrip("/").split("/", 1)[0], "v1")
        return error_response(to_api_error(exc, req), pretty=pretty, form=form, xgafv=req.args.get("$.xgafv"))

    @app.errorhandler(Exception)
    def _handle(exc):
        return render_error(exc, flask_request._get_current_object())

    api_calls = ApiCalls(app, eng, render_error, _same_origin_only, _handle)
    app.wsgi_app = hosts.HostGuard(method_override(api_calls), settings.allowed_hosts, error_response)
    return app


class ApiCalls:
    """WSGI: the API's own methods answered without Flask's request machinery; every other request
    (and HEAD, OPTIONS, 404, 405) goes to Flask.

    Around an API method Flask runs only what create_app gave it: the same-origin check before the
    view and the error handler after it, so this runs those two itself, in the same order, with
    the same request class, routing and response. That saves Flask's app and request contexts,
    its hooks and its signals on every call; and it keeps recent matches and parsed queries. Should the app be given anything more that Flask would
    run around an API method (a hook, an error handler, a signal receiver, trusted hosts, debug), every
    request goes to Flask instead.
    """

    def __init__(self, app: Flask, eng: Engine, render_error, same_origin_hook, error_handler):
        self._app = app
        self._flask = app.wsgi_app
        self._routes = eng.routes
        self._max_body = eng.settings.max_request_bytes
        self._render_error = render_error
        self._expected = (same_origin_hook, error_handler)
        self._direct = None  # decided at the first request, when the app is complete
        self._matched = {}  # the matches of recent API calls, by what routing reads of the environ
        self._adapters = {}  # url_map adapters, by what binding reads of the environ (see _match)
        self._queries = {}  # parsed query strings

    def __call__(self, environ, start_response):
        if self._direct is None:
            self._direct = self._flask_adds_nothing()
        if not self._direct or _signals_heard():
            return self._flask(environ, start_response)
        key = tuple(map(environ.get, _ROUTING_KEYS))
        matched = self._matched.get(key)
        if matched is None:
            matched = self._match(environ)
            if matched is None:
                return self._flask(environ, start_response)
            if len(self._matched) >= _MATCHES_KEPT:
                self._matched.clear()
            self._matched[key] = matched
        route, rule, path_values = matched
        path_values = dict(path_values)
        req = self._app.request_class(environ)
        req.url_rule, req.view_args = rule, path_values
        try:
            self._parse_query(req)
            hosts.check_same_origin(req)
            status, value, pretty = _call(route, req, path_values, self._max_body)
            line, headers, body = wsgi_json(value, status, pretty)
        except Exception as exc:  # as Flask's handle_user_exception, with only our handler
            return self._error_response(exc, req)(environ, start_response)
        start_response(line, headers)
        return body

    def _parse_query(self, req) -> None:
        """req.args, parsed once for each of the last _MATCHES_KEPT query strings: the parsed query
        is immutable and depends on the string alone (`numTasks=1&leaseSecs=60` comes again and
        again). Raises what parsing raises, inside the call as under Flask."""
        query = req.environ.get("QUERY_STRING", "")
        args = self._queries.get(query)
        if args is None:
            if len(self._queries) >= _MATCHES_KEPT:
                self._queries.clear()
            self._queries[query] = req.args
        else:
            req.args = args

    def _match(self, environ):
        """(route, rule, path values) of an API method called with its own verb, as Flask routes
        it; None for anything else (Flask answers that: another route, 404, 405, a redirect).

        The adapter Flask would bind depends on the environ but for the path, verb and query, which
        match() takes as arguments (the query is used only for redirects, never answered here), so
        one adapter per host, scheme and mount point serves every request made alike."""
        shape = tuple(map(environ.get, _BINDING_KEYS))
        adapter = self._adapters.get(shape)
        if adapter is None:
            app = self._app
            try:
                adapter = app.url_map.bind_to_environ(environ, server_name=app.config["SERVER_NAME"],
                                                      subdomain=app.url_map.default_subdomain or "")
            except HTTPException:  # a Host that cannot be bound (BadHost): Flask answers it
                return None
            if len(self._adapters) >= _MATCHES_KEPT:
                self._adapters.clear()
            self._adapters[shape] = adapter
        path = environ.get("PATH_INFO")
        try:
            # PATH_INFO decoded as bind_to_environ decodes it (WSGI strings are latin-1 of UTF-8)
            path = "/" if path is None else path.encode("latin1").decode(errors="replace")
            rule, path_values = adapter.match(path, environ["REQUEST_METHOD"], return_rule=True)
        except HTTPException:
            return None
        route = self._routes.get(rule.endpoint)
        if route is None or environ.get("REQUEST_METHOD") != route.method.http_method:
            return None
        return route, rule, path_values

    def _error_response(self, exc, req):
        if isinstance(exc, HTTPException) and (exc.code is None or isinstance(exc, RoutingException)):
            return exc
        try:
            return self._render_error(exc, req)
        except Exception as failure:  # as Flask's handle_exception: logged, then answered as a 500
            self._app.logger.error(f"Exception on {req.path} [{req.method}]", exc_info=failure)
            return self._render_error(InternalServerError(original_exception=failure), req)

    def _flask_adds_nothing(self) -> bool:
        """True when Flask would run nothing around an API method but the two functions create_app
        gave it; then also marks the app as serving, so that Flask refuses any later hook (as it
        does after its first request).

        Flask takes an endpoint's blueprints from its dots (`taskqueue.tasks.insert#0` belongs to
        `taskqueue.tasks` and `taskqueue`), so hooks and handlers of those scopes count too."""
        app, (same_origin, handler) = self._app, self._expected
        scopes = {None} | {name for endpoint in self._routes for name in _blueprints_of(endpoint)}

        def registered(funcs: dict) -> dict:
            return {scope: list(fs) for scope, fs in funcs.items() if scope in scopes and fs}

        handlers = {scope: {code: dict(by_class) for code, by_class in codes.items() if by_class}
                    for scope, codes in app.error_handler_spec.items() if scope in scopes}
        plain = (not app.debug and app.config["TRUSTED_HOSTS"] is None
                 and not app.config["TRAP_HTTP_EXCEPTIONS"] and not app.config["TRAP_BAD_REQUEST_ERRORS"]
                 and not app.url_map.host_matching and not app.subdomain_matching
                 and registered(app.before_request_funcs) == {None: [same_origin]}
                 and not any(registered(funcs) for funcs in (app.after_request_funcs, app.teardown_request_funcs,
                                                             app.url_value_preprocessors))
                 and not app.teardown_appcontext_funcs
                 and {scope: codes for scope, codes in handlers.items() if codes}
                 == {None: {None: {Exception: handler}}})
        app._got_first_request = True  # what Flask's first request would have set
        return plain


#: What werkzeug's bind_to_environ reads of the environ, but for the path, verb and query.
_BINDING_KEYS = ("SCRIPT_NAME", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme", "HTTP_CONNECTION",
                 "HTTP_UPGRADE")
#: ... and with those, what routing reads (the query only for redirects, which are not kept): two
#: requests alike in these are routed alike, for the url_map is fixed once the app serves.
_ROUTING_KEYS = ("REQUEST_METHOD", "PATH_INFO") + _BINDING_KEYS
#: Matches kept (each a few hundred bytes), and adapters: all are dropped when this many are kept.
_MATCHES_KEPT = 1024


def _blueprints_of(endpoint: str) -> list:
    """The blueprints Flask takes an endpoint to belong to (`a.b.c` -> `a.b`, `a`)."""
    name = endpoint.rpartition(".")[0]
    return [name.rsplit(".", i)[0] for i in range(name.count(".") + 1)] if name else []


_FLASK_SIGNALS = (signals.request_started, signals.request_finished, signals.request_tearing_down,
                  signals.got_request_exception, signals.appcontext_pushed, signals.appcontext_popped,
                  signals.appcontext_tearing_down)


def _signals_heard() -> bool:
    """Whether anything listens to Flask's request signals (then Flask must send them)."""
    for signal in _FLASK_SIGNALS:
        if signal.receivers:
            return True
    return False


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
    """An API method under Flask (when ApiCalls hands the request on: HEAD, or a hooked app)."""
    eng = engine()
    req = flask_request._get_current_object()
    return _answer(eng.routes[req.url_rule.endpoint], req, path_values, eng.settings.max_request_bytes)


def _answer(route, req, path_values: dict, max_body: int) -> Response:
    """Run the API method of `route` for the request `req`; its answer as a response."""
    status, value, pretty = _call(route, req, path_values, max_body)
    return json_response(value, status=status, pretty=pretty)


def _call(route, req, path_values: dict, max_body: int) -> tuple:
    """Run the API method of `route` for the request `req`: (status, value, pretty), as `run`."""
    data = read_body(max_body, req) if route.method.request else b""
    return run(Call(route, path_values, req.args, data))


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
