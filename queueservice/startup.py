"""Start-up checks, run once in gunicorn's master before anything is served.

An operator's mistake (a bad setting, QUEUE_CONFIG, REDIS_URL, an evicting Redis, a port in use)
stops start-up with one line and a non-zero exit, never a traceback, and before any
"serving on" or "Listening at" line. The checks build the application once, so whatever the
workers would refuse at start-up is refused here first.
"""

from __future__ import annotations

import logging
import socket

from queueservice.config import Settings
from queueservice.engine.discovery import DocumentError
from queueservice.errors import StartupError


def fail(message: str) -> SystemExit:
    return SystemExit(f"queueservice: {message}")


def check_app(settings: Settings) -> None:
    """Build the app as a worker would (documents, QUEUE_CONFIG, Redis URL and policy), then drop it."""
    from queueservice.engine.app import create_app

    quiet = logging.getLogger("queueservice")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the workers say the same once they start
    try:
        create_app(settings)
    except (StartupError, DocumentError) as exc:
        raise fail(str(exc)) from None
    finally:
        quiet.setLevel(level)


def check_bind(addresses) -> None:
    """Each address of gunicorn's `cfg.address` can be bound now (not in use, a real local address)."""
    for address in addresses:
        if isinstance(address, (str, bytes)):  # a unix socket: gunicorn reports its own errors
            continue
        host, port = address[0], address[1]
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            family, kind, proto, _, sockaddr = infos[0]
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(sockaddr)
        except socket.gaierror as exc:
            raise fail(f"HOST {host!r} is not an address of this machine ({exc.strerror}); "
                       "use 127.0.0.1, 0.0.0.0 or ::") from None
        except OSError as exc:
            if exc.errno in (98, 48):  # EADDRINUSE on Linux, macOS
                raise fail(f"cannot listen on {shown}: the port is in use; stop what holds it or set PORT") from None
            raise fail(f"cannot listen on {shown}: {exc.strerror}; check HOST and PORT") from None


def start_embedded(settings: Settings) -> None:
    """With REDIS_URL unset, start the embedded store server (embedded.py), or say why not."""
    from queueservice.redis_helpers import embedded

    try:
        embedded.start_for_service(settings)
    except StartupError as exc:
        raise fail(str(exc)) from None


def check_workers(settings: Settings, workers: int) -> None:
    """The in-memory fallback store lives in one process: several workers would each have their own."""
    from queueservice.redis_helpers import embedded

    if settings.embedded and workers > 1 and not embedded.can_run():
        raise fail(f"{workers} workers need a shared store, but REDIS_URL is unset and the embedded "
                   "in-memory store (no embedded store server can run here) lives in one process; "
                   "set REDIS_URL or run one worker")
