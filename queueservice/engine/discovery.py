"""Google discovery documents: loading an API's `.api` file, walking its methods, serving it."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path


def snake(name: str) -> str:
    """`numTasks` -> `num_tasks`; other characters a Python name cannot hold become `_`."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return re.sub(r"\W", "_", name)


class DocumentError(Exception):
    """A discovery document that the engine cannot serve; stops start-up."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a method (or a global one), as the document types it."""

    name: str
    type: str = "string"
    format: str | None = None
    location: str = "query"
    required: bool = False
    repeated: bool = False
    enum: tuple | None = None
    minimum: str | None = None
    maximum: str | None = None
    pattern: str | None = None
    default: str | None = None

    @classmethod
    def from_spec(cls, name: str, spec: dict) -> "Parameter":
        return cls(
            name=name,
            type=spec.get("type", "string"),
            format=spec.get("format"),
            location=spec.get("location", "query"),
            required=bool(spec.get("required", False)),
            repeated=bool(spec.get("repeated", False)),
            enum=tuple(spec["enum"]) if "enum" in spec else None,
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            pattern=spec.get("pattern"),
            default=spec.get("default"),
        )


@dataclass(frozen=True)
class Method:
    """One REST method: where it is routed and what it takes and answers."""

    id: str
    http_method: str
    path: str
    parameters: dict
    request: str | None
    response: str | None
    flat_path: str | None = None

    @property
    def handler_name(self) -> str:
        """The naming rule: `taskqueue.tasks.lease` is implemented by `tasks_lease`
        (and `queueadmin.queues.requeueDead` by `queues_requeue_dead`)."""
        return "_".join(snake(part) for part in self.id.split(".")[1:])


@dataclass
class ApiDocument:
    """A loaded discovery document and the methods it describes."""

    raw: dict
    path: Path
    methods: list = field(default_factory=list)
    global_parameters: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.raw["name"]

    @property
    def version(self) -> str:
        return self.raw["version"]

    @property
    def module_name(self) -> str:
        """The paired implementation module's name: `<name>_<version>` (beside the document)."""
        return f"{self.name}_{self.version}".replace(".", "_")

    @property
    def service_path(self) -> str:
        return self.raw.get("servicePath", "")

    @property
    def batch_path(self) -> str | None:
        return self.raw.get("batchPath")

    @property
    def schemas(self) -> dict:
        return self.raw.get("schemas", {})

    @property
    def mount_at_root(self) -> bool:
        """Serve the methods at the host root as well as under servicePath (our `x-mountAtRoot`):
        for clients whose api_endpoint is the bare host. Opt-in, so two APIs cannot collide there."""
        return bool(self.raw.get("x-mountAtRoot")) and bool(self.service_path)

    def rendered(self, root_url: str) -> dict:
        """The document as served: URLs point at the host the client used; our `x-` keys left out."""
        doc = {k: copy.deepcopy(v) for k, v in self.raw.items() if not k.startswith("x-")}
        doc["rootUrl"] = root_url
        doc["baseUrl"] = root_url + self.service_path
        doc["basePath"] = "/" + self.service_path
        return doc


def load_document(path: Path) -> ApiDocument:
    """Parse one `.api` file and collect its methods, nested resources included."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DocumentError(f"{path}: not a readable JSON document ({exc})") from exc
    for key in ("name", "version", "servicePath", "resources"):
        if key not in raw:
            raise DocumentError(f"{path}: discovery document has no {key!r}")
    doc = ApiDocument(raw=raw, path=Path(path))
    doc.global_parameters = {n: Parameter.from_spec(n, s) for n, s in raw.get("parameters", {}).items()}
    doc.methods = list(_walk(raw["resources"], path))
    seen = set()
    for method in doc.methods:
        if method.id in seen:
            raise DocumentError(f"{path}: method id {method.id} appears twice")
        seen.add(method.id)
    return doc


def _walk(resources: dict, path: Path):
    for resource in resources.values():
        for spec in resource.get("methods", {}).values():
            try:
                params = {n: Parameter.from_spec(n, s) for n, s in spec.get("parameters", {}).items()}
                yield Method(
                    id=spec["id"],
                    http_method=spec.get("httpMethod", "GET").upper(),
                    path=spec["path"],
                    parameters=params,
                    request=(spec.get("request") or {}).get("$ref"),
                    response=(spec.get("response") or {}).get("$ref"),
                    flat_path=spec.get("flatPath"),
                )
            except KeyError as exc:
                raise DocumentError(f"{path}: a method lacks {exc}") from exc
        yield from _walk(resource.get("resources", {}), path)


_TEMPLATE = re.compile(r"\{(\+?)([^}]+)\}")


def bare_pattern(pattern: str) -> str:
    """A parameter's `pattern` without its anchors, to embed in a route."""
    return pattern.removeprefix("^").removesuffix("$")


def path_to_rule(template: str, parameters: dict | None = None, converter_for=None) -> tuple:
    """Turn a URI template into a werkzeug rule: `{x}` -> `<x>`; `{+x}` -> `<path:x>`, or, when
    the parameter has a `pattern` and `converter_for(pattern)` names a converter, `<that:x>`,
    so `v2/{+name}` of a queue and of a location are different routes.

    Returns the rule and a map from werkzeug variable names back to parameter names,
    since discovery names need not be Python identifiers.
    """
    names, parameters = {}, parameters or {}

    def repl(match):
        var = f"v{len(names)}"
        names[var] = match.group(2)
        if not match.group(1):
            return f"<{var}>"
        param = parameters.get(match.group(2))
        if param is not None and param.pattern and converter_for is not None:
            return f"<{converter_for(param.pattern)}:{var}>"
        return f"<path:{var}>"

    return _TEMPLATE.sub(repl, template), names


def path_regex(template: str, parameters: dict) -> re.Pattern:
    """The URLs a template matches, as a regex: `{x}` one segment, `{+x}` its pattern or anything."""
    out, end = [], 0
    for match in _TEMPLATE.finditer(template):
        out.append(re.escape(template[end:match.start()]))
        param = parameters.get(match.group(2))
        if not match.group(1):
            out.append("[^/]+")
        elif param is not None and param.pattern:
            out.append(f"(?:{bare_pattern(param.pattern)})")
        else:
            out.append(".+")
        end = match.end()
    out.append(re.escape(template[end:]))
    return re.compile("".join(out))


def sample_path(template: str) -> str:
    """A URL of the template with `x` for each variable (flatPath's variables are one segment)."""
    return _TEMPLATE.sub("x", template)
