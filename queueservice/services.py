"""Long-lived services of one process, by name: built once and shared by the APIs that use them.

The serving process starts them when it is ready (gunicorn's `post_worker_init`, so also under
`python -m queueservice`) and stops them on exit (`worker_exit`); `python -m queueservice worker`
runs them without serving, for those who scale background work apart. `/healthz` reports each.
A service may define `start()`, `stop()` (background work), `health()` (a dict) and
`operator_kind` (its queues as the operator tools see them).
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("queueservice")


class Services:
    """The registry; it is also the context API modules build their backends from."""

    def __init__(self, settings, redis):
        self.settings = settings
        self.redis = redis
        self._built = {}
        self._started = False
        self._lock = threading.RLock()  # a service may ask for another while it is built

    def get(self, name: str, build):
        """The service `name`, built by `build(self)` the first time it is asked for."""
        with self._lock:
            if name not in self._built:
                self._built[name] = build(self)
                if self._started:
                    _call(self._built[name], "start", name)
            return self._built[name]

    def names(self) -> list:
        return list(self._built)

    def kinds(self) -> list:
        """The operator view (`QueueKind`) of every service that has queues."""
        return [kind for kind in (getattr(s, "operator_kind", None) for s in self._built.values()) if kind]

    def start(self) -> None:
        with self._lock:
            self._started = True
            for name, service in self._built.items():
                _call(service, "start", name)

    def stop(self) -> None:
        with self._lock:
            self._started = False
            for name, service in reversed(list(self._built.items())):
                _call(service, "stop", name)

    def health(self) -> dict:
        """{name: health dict}: the service's own `health()` (or ok), and whether its background
        work runs in this process (`running`)."""
        out = {}
        for name, service in list(self._built.items()):
            check = getattr(service, "health", None)
            try:
                out[name] = dict(check()) if callable(check) else {"status": "ok"}
            except Exception as exc:  # noqa: BLE001 - one failing check must not hide the others
                out[name] = {"status": "unavailable", "problem": str(exc) or exc.__class__.__name__}
            out[name]["running"] = self._started
        return out


def _call(service, verb: str, name: str) -> None:
    fn = getattr(service, verb, None)
    if callable(fn):
        log.debug("%s service %s", verb, name)
        fn()
