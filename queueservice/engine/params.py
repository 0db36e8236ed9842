"""Checks and converts parameter values to the types their discovery document gives them."""

from __future__ import annotations

import re
from functools import lru_cache

from queueservice.engine import formats
from queueservice.engine.discovery import snake
from queueservice.errors import InvalidArgument, RequiredArgument

_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_INTEGER = re.compile(r"^[+-]?[0-9]{1,20}$")  # ASCII digits only: int() also takes "١" and "1_0"
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:Infinity|inf|NaN|nan)")


def _invalid(name, value, why, location_type="parameter"):
    shown = value if len(value) <= 64 else value[:61] + "..."
    return InvalidArgument(f"Invalid value '{shown}' for {name}: {why}",
                           location=name, location_type=location_type)


@lru_cache(maxsize=256)
def _compiled(pattern: str):
    return re.compile(pattern)


def enum_name(param, raw: str, location_type: str = "parameter", name: str | None = None) -> str:
    """An enum value by name, or by number as protobuf JSON allows (`responseView=2`,
    `"httpMethod": 1`): the document lists enum values in the order of their numbers."""
    if raw in param.enum:
        return raw
    if raw.isdigit() and int(raw) < len(param.enum):
        return param.enum[int(raw)]
    raise _invalid(name or param.name, raw, f"must be one of {', '.join(param.enum)}", location_type)


def convert(param, raw: str, *, location_type: str = "parameter", name: str | None = None):
    """Convert one raw string to the parameter's type, or raise InvalidArgument; errors name
    `name` (a body field's path) or else the parameter.

    String formats become Python values: google-datetime and google-duration µs ints,
    google-fieldmask a list of paths, byte the decoded bytes."""
    name = name or param.name
    if param.enum is not None:
        raw = enum_name(param, raw, location_type, name)
    kind, fmt = param.type, param.format
    if kind == "boolean":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise _invalid(name, raw, "must be true or false", location_type)
        value = lowered == "true"
    elif kind == "integer" or (kind == "string" and fmt in ("int64", "uint64")):
        if not _INTEGER.match(raw):
            raise _invalid(name, raw, "must be a whole number", location_type)
        value = int(raw)
        low, high = _INT_RANGES.get(fmt or "int32", _INT_RANGES["int32"])
        if not low <= value <= high:
            raise _invalid(name, raw, f"out of range for {fmt or 'int32'}", location_type)
    elif kind == "number":
        if not _NUMBER.fullmatch(raw):
            raise _invalid(name, raw, "must be a number", location_type)
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise _invalid(name, raw, "must be a finite number", location_type)
    elif fmt in formats.PARSERS:
        try:
            value = formats.PARSERS[fmt](raw)
        except ValueError as exc:
            raise _invalid(name, raw, str(exc), location_type) from None
        return value
    else:
        value = raw
        if param.pattern and not _compiled(param.pattern).fullmatch(raw):
            raise _invalid(name, raw, f"must match {param.pattern}", location_type)
    if param.minimum is not None and value < float(param.minimum):
        raise _invalid(name, raw, f"must be at least {param.minimum}", location_type)
    if param.maximum is not None and value > float(param.maximum):
        raise _invalid(name, raw, f"must be at most {param.maximum}", location_type)
    return value


#: A default that does not convert: it is converted (and refused) on each call, as it was read.
_CONVERT_EACH_TIME = object()


def _prepared_default(param):
    if param.default is None:
        return None
    try:
        value = convert(param, param.default)
    except InvalidArgument:
        return _CONVERT_EACH_TIME
    return value


class ParameterSet:
    """The parameters of one method (or a document's global ones), prepared once at start-up:
    defaults converted, and each one's Python name (`numTasks` -> `num_tasks`) worked out."""

    def __init__(self, parameters: dict):
        self.parameters = parameters
        self.python_names = {name: snake(name) for name in parameters}
        self._entries = tuple((name, param, param.location == "path", _prepared_default(param))
                              for name, param in parameters.items())
        # A query that gives none of these parameters gets their defaults: known in advance when
        # none is required, in the path, or defaulted to a list or to what does not convert.
        self._names = frozenset(parameters)
        self._defaults = None
        if not any(param.required or in_path or default is _CONVERT_EACH_TIME or isinstance(default, list)
                   for _, param, in_path, default in self._entries):
            self._defaults = {name: default for name, _, _, default in self._entries if default is not None}

    def check(self, path_values: dict, query) -> dict:
        """Check every parameter; returns {name: typed value} for those given.

        `query` is a werkzeug MultiDict. Defaults from the document fill optional parameters
        that are absent, so handlers see what the document promises.
        """
        if self._defaults is not None and self._names.isdisjoint(dict.keys(query)):
            return dict(self._defaults)
        values = {}
        for name, param, in_path, default in self._entries:
            if in_path:
                raws = [path_values[name]] if name in path_values else ()
            else:
                raws = query.getlist(name) if name in query else ()
            if not raws:
                if param.required:
                    raise RequiredArgument(f"Required parameter: {name}", location=name)
                if default is _CONVERT_EACH_TIME:
                    values[name] = convert(param, param.default)
                elif default is not None:
                    values[name] = list(default) if isinstance(default, list) else default
                continue
            if len(raws) > 1 and not param.repeated:
                raise InvalidArgument(f"Parameter {name} was given {len(raws)} times; it takes one value",
                                      location=name, location_type="parameter")
            if param.repeated:
                values[name] = [convert(param, raw) for raw in raws]
            else:
                values[name] = convert(param, raws[0])
        return values
