"""Who may talk to the service: loopback and ALLOWED_HOSTS by `Host` (DNS rebinding), same origin for writes (CSRF).

A page on `evil.example` that resolves to 127.0.0.1 reaches this server with `Host: evil.example`;
refusing unknown hosts on every route stops it reading payloads or purging queues. The check is a
WSGI middleware, so it covers every route (API, batch, discovery, dashboard, admin, metrics,
healthz) and answers in Google's JSON error format whatever the route would have answered.

`X-Forwarded-Host` is not checked: a browser cannot send it cross-site (it is not a simple
header, and this server grants no CORS preflight), so only a proxy the operator runs sets it.
Such a proxy must send an allowed `Host` (its upstream name, or one listed in ALLOWED_HOSTS).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from queueservice.errors import Forbidden

LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def split_host(host: str) -> tuple:
    """("name", "port" or "") of a Host header value; the name lower-cased, IPv6 kept in brackets.
    A malformed value (a port that is not a number, text after an IPv6 address) gives ("", "")."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name, port = name + "]", rest[1:] if rest.startswith(":") else rest
    else:
        name, _, port = host.partition(":")
        name = name.rstrip(".")
    if port and not (port.isascii() and port.isdigit()):
        return "", ""
    return name, port


def host_allowed(host: str, allowed: frozenset) -> bool:
    if "*" in allowed:
        return True
    name, port = split_host(host)
    if not name:
        return False
    return (name in LOOPBACK or _loopback_ipv4(name) or name in allowed
            or (bool(port) and f"{name}:{port}" in allowed))


def _loopback_ipv4(name: str) -> bool:
    """127.0.0.0/8 in dotted-quad form (a service bound to 127.0.0.2 answers to its own address)."""
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isascii() and p.isdigit() and int(p) < 256 for p in parts)


_HOSTS_KEPT = 256


class HostGuard:
    """WSGI middleware: refuse a request whose Host is neither loopback nor in ALLOWED_HOSTS (403)."""

    def __init__(self, app, allowed: frozenset, render):
        self._app = app
        self._allowed = allowed
        self._render = render
        self._known = {}  # host -> allowed, for the last _HOSTS_KEPT hosts seen

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST") or ""
        allowed = self._known.get(host)
        if allowed is None:
            if len(self._known) >= _HOSTS_KEPT:
                self._known.clear()
            allowed = self._known[host] = host_allowed(host, self._allowed)
        if not allowed:
            shown = host[:100] or "(none)"
            error = Forbidden(
                f"Host {shown!r} is not served here: this server answers loopback hosts and those in "
                "ALLOWED_HOSTS (set ALLOWED_HOSTS to name it)")
            return self._render(error)(environ, start_response)
        return self._app(environ, start_response)


def check_same_origin(request) -> None:
    """Raise Forbidden when a browser says a state-changing request (a werkzeug Request) comes
    from another origin.

    Browsers name the page's origin on cross-site requests; API clients send no Origin. An
    origin without a host part (`file://`, `null`) is never this server. The request's host is
    worked out only for a request that names an origin.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    environ = request.environ  # the headers as werkzeug's EnvironHeaders.get reads them
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None:
        forwarded = (environ.get("HTTP_X_FORWARDED_HOST") or "").split(",")[0].strip()
        ours = {h.lower() for h in (request.host, forwarded) if h}
        netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
        if not netloc:
            raise Forbidden(f"Requests from a page without a host ({origin[:60]}) are refused; "
                            "use this server's own pages")
        if netloc not in ours:
            raise Forbidden(f"Requests from the web page at {origin[:100]} are refused; use this server's own pages")
    if environ.get("HTTP_SEC_FETCH_SITE") == "cross-site":
        raise Forbidden("Cross-site requests are refused")
