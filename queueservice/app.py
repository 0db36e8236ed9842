"""The Flask application: API routes from discovery, discovery endpoints, batch, health, errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from . import apis as apis_mod
from . import batch, discovery, discovery_views, redis_conn
from .config import Settings
from .engine import Call, build_routes, invoke
from .request_body import read_body
from .responses import error_response, json_response
from .errors import (ApiError, InternalError, InvalidArgument, MethodNotAllowed, NotFound,
                     PayloadTooLarge, Unavailable)

log = logging.getLogger("queueservice")
access_log = logging.getLogger("queueservice.access")

@dataclass
class Engine:
    """What the views share: settings, the Redis client, the bound APIs and their routes."""

    settings: Settings
    redis: object
    apis: list
    routes: dict


def engine() -> Engine:
    from flask import current_app

    return current_app.extensions["queueservice"]


def to_api_error(exc: BaseException) -> ApiError:
    """The one place where every exception becomes a Google error; unknown ones are a 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, redis_conn.UNAVAILABLE_ERRORS):
        log.warning("store unavailable: %s", exc)
        return Unavailable("The task store is unavailable; try again shortly")
    if isinstance(exc, HTTPException):
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
    log.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
    return InternalError("Internal error; the server log has the details")


def create_app(settings: Settings | None = None, redis_client=None) -> Flask:
    """Build the service: load every `api_data/*.api`, bind its module, and route it."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = redis_client if redis_client is not None else redis_conn.connect(settings)
    context = SimpleNamespace(settings=settings, redis=client)
    bound = [apis_mod.bind(doc, context) for doc in discovery.load_all(settings.api_data_dir)]
    routes = build_routes(bound)

    app = Flask(__name__)
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    eng = Engine(settings=settings, redis=client, apis=bound, routes={})
    app.extensions["queueservice"] = eng

    for index, route in enumerate(routes):
        endpoint = f"{route.method.id}#{index}"
        eng.routes[endpoint] = route
        app.add_url_rule(route.rule, endpoint=endpoint, view_func=_api_view,
                         methods=[route.method.http_method])

    discovery_routes = discovery_views.views(bound)
    for rule, view in discovery_routes:
        app.add_url_rule(rule, endpoint="discovery:" + rule, view_func=view, methods=["GET"])
    for doc in bound:
        if doc.document.batch_path:
            app.add_url_rule("/" + doc.document.batch_path, endpoint="batch:" + doc.document.batch_path,
                             view_func=batch.view, methods=["POST"])
    app.add_url_rule("/batch/<api>/<version>", endpoint="batch:api", view_func=batch.view,
                     methods=["POST"])
    app.add_url_rule("/healthz", view_func=_healthz, methods=["GET"])

    @app.errorhandler(Exception)
    def _handle(exc):
        return error_response(to_api_error(exc))

    return app


def _api_view(**path_values):
    eng = engine()
    route = eng.routes[request.url_rule.endpoint]
    data = read_body(eng.settings.max_request_bytes) if route.method.request else b""
    status, value, pretty = invoke(Call(route, path_values, request.args, data))
    return json_response(value, status=status, pretty=pretty)


def _healthz():
    eng = engine()
    ok = redis_conn.ping(eng.redis)
    body = {"status": "ok" if ok else "unavailable",
            "store": "embedded" if eng.settings.embedded else "redis"}
    return json_response(body, status=200 if ok else 503)
