"""Pairs each discovery document with its implementation module and checks they match.

The naming rule maps a method id to a function (`taskqueue.tasks.lease` -> `tasks_lease`),
and each function must take exactly the method's parameters (snake_cased), plus `body`
when the method has a request. A mismatch stops start-up instead of failing a request.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass
from types import ModuleType

from .discovery import ApiDocument, DocumentError, Method, snake


@dataclass
class BoundApi:
    """A document, its module, the backend the module built, and one handler per method."""

    document: ApiDocument
    module: ModuleType
    backend: object
    handlers: dict

    def handler(self, method: Method):
        return self.handlers[method.id]

    @property
    def error_format(self) -> str:
        """The API's error body: "v1" (`errors` array and `reason`, TaskQueue's) or "v2" (`status`
        and `details`, newer Google APIs); a module sets `ERROR_FORMAT`."""
        return getattr(self.module, "ERROR_FORMAT", "v1")

    @property
    def empty_answer(self):
        """What a handler's `None` is answered with: 204 and no body (TaskQueue's delete), or
        200 `{}` (Google's `Empty`); a module sets `EMPTY_ANSWER = {}` for the latter."""
        return getattr(self.module, "EMPTY_ANSWER", None)


def import_module(document: ApiDocument) -> ModuleType:
    """Import `<dir>/<name>_<version>.py` as a submodule of the document's folder."""
    folder = document.path.parent
    parent = str(folder.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    qualified = f"{folder.name}.{document.module_name}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name in (qualified, folder.name):
            raise DocumentError(f"{document.path}: no implementation module {qualified}") from exc
        raise


def resolve_handlers(document: ApiDocument, module: ModuleType) -> dict:
    """Map every method id to its function; raise DocumentError on any mismatch."""
    handlers, problems = {}, []
    for method in document.methods:
        fn = getattr(module, method.handler_name, None)
        if not callable(fn):
            problems.append(f"{method.id}: {module.__name__}.{method.handler_name} is missing")
            continue
        expected = {snake(n) for n in method.parameters} | ({"body"} if method.request else set())
        params = list(inspect.signature(fn).parameters.values())
        taken = {p.name for p in params[1:]}
        if not params or taken != expected:
            problems.append(
                f"{method.id}: {method.handler_name}(backend, ...) takes {sorted(taken)}, "
                f"the document gives {sorted(expected)}")
            continue
        handlers[method.id] = fn
    declared = {m.handler_name for m in document.methods}
    prefixes = {m.handler_name.split("_")[0] + "_" for m in document.methods}
    for name, fn in vars(module).items():
        if (callable(fn) and getattr(fn, "__module__", None) == module.__name__
                and any(name.startswith(p) for p in prefixes) and name not in declared):
            problems.append(f"{module.__name__}.{name} implements no method of the document")
    if problems:
        raise DocumentError(f"{document.path}: " + "; ".join(problems))
    return handlers


def bind(document: ApiDocument, context) -> BoundApi:
    """Import, check and set up one API; its module's `create_backend(context)` builds its storage."""
    module = import_module(document)
    handlers = resolve_handlers(document, module)
    create = getattr(module, "create_backend", None)
    backend = create(context) if callable(create) else None
    return BoundApi(document=document, module=module, backend=backend, handlers=handlers)
