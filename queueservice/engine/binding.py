"""Pairs each discovery document with its implementation module and checks they match.

The naming rule maps a method id to a function (`taskqueue.tasks.lease` -> `tasks_lease`),
and each function must take exactly the method's parameters (snake_cased), plus `body`
when the method has a request. A mismatch stops start-up instead of failing a request.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from queueservice.engine.discovery import ApiDocument, DocumentError, Method, load_document, snake
from queueservice.engine.params import ParameterSet


@dataclass
class BoundApi:
    """A document, its module, the backend the module built, and one handler per method; with
    what every call needs from them worked out once, when the API is bound."""

    document: ApiDocument
    module: ModuleType
    backend: object
    handlers: dict
    #: The API's error body: "v1" (`errors` array and `reason`, TaskQueue's) or "v2" (`status`
    #: and `details`, newer Google APIs); a module sets `ERROR_FORMAT`.
    error_format: str = field(init=False)
    #: Whether int64 fields of answers are written as JSON strings (a module sets
    #: `INT64_AS_STRINGS = True`), as Google's APIs write them.
    int64_as_strings: bool = field(init=False)
    #: What a handler's `None` is answered with: 204 and no body (TaskQueue's delete), or
    #: 200 `{}` (Google's `Empty`); a module sets `EMPTY_ANSWER = {}` for the latter.
    empty_answer: object = field(init=False)
    #: The document's global parameters, and each method's (by method id), ready to check.
    global_parameters: ParameterSet = field(init=False)
    parameters: dict = field(init=False)

    def __post_init__(self):
        self.error_format = getattr(self.module, "ERROR_FORMAT", "v1")
        self.int64_as_strings = bool(getattr(self.module, "INT64_AS_STRINGS", False))
        self.empty_answer = getattr(self.module, "EMPTY_ANSWER", None)
        self.global_parameters = ParameterSet(self.document.global_parameters)
        self.parameters = {m.id: ParameterSet(m.parameters) for m in self.document.methods}

    def handler(self, method: Method):
        return self.handlers[method.id]

    @property
    def aliases(self) -> dict:
        """More URLs of some methods, beside the document's: {method id: [Alias]}, from the
        module's `ALIASES` (a client convention such as firebase-admin's emulator paths)."""
        return getattr(self.module, "ALIASES", {})


@dataclass(frozen=True)
class Alias:
    """A method served at another URI template too (`path`, relative to the host root), with its
    own `handler` (same parameters as the method's; None: the method's) and `answer(shaped)`
    reshaping what the method answers (None: as it is). Checks and errors stay the method's."""

    path: str
    handler: object = None
    answer: object = None


def load_api(spec: str) -> tuple:
    """(document, module) of one API: `spec` is the module's dotted name, its document the `.api`
    file beside it; or (for tests) the path of a `.api` file, its module the `.py` beside it."""
    if spec.endswith(".api"):
        path = Path(spec)
        module_path = path.with_suffix(".py")
        if not module_path.exists():
            raise DocumentError(f"{path}: no implementation module {module_path.name} beside it")
        name = f"_queueservice_api_{abs(hash(str(path.resolve())))}"
        loader = importlib.util.spec_from_file_location(name, module_path)
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module
        loader.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(spec)
        except ModuleNotFoundError as exc:
            if exc.name and spec.startswith(exc.name):
                raise DocumentError(f"API module {spec} does not exist") from exc
            raise
        path = Path(module.__file__).with_suffix(".api")
    document = load_document(path)
    if document.module_name != path.stem:
        raise DocumentError(f"{path}: describes {document.name} {document.version}, so its file "
                            f"should be named {document.module_name}.api")
    return document, module


def load_apis(specs) -> list:
    """[(document, module)] of every API in `specs`; two documents of one API version stop start-up."""
    loaded = [load_api(spec) for spec in specs]
    names = [(d.name, d.version) for d, _ in loaded]
    if len(set(names)) != len(names):
        raise DocumentError("two served documents describe the same API version")
    return loaded


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


def bind(document: ApiDocument, module: ModuleType, context) -> BoundApi:
    """Check and set up one API; its module's `create_backend(context)` builds its storage."""
    handlers = resolve_handlers(document, module)
    create = getattr(module, "create_backend", None)
    backend = create(context) if callable(create) else None
    return BoundApi(document=document, module=module, backend=backend, handlers=handlers)
