"""Answers written as Google writes them: typed values of handlers turned into wire strings.

Handlers return µs ints for google-datetime and google-duration fields, bytes for byte fields and
lists for field masks; this writes RFC 3339, `"3.5s"`, base64 and `"a,b"`, enum names as numbers
when the client asked `$alt=json;enum-encoding=int`, and int64 ints as strings for an API that sets
`INT64_AS_STRINGS` (TaskQueue writes its own, since its render compatibility wants numbers). Schemas without such fields are
left alone, so answers of older documents cost nothing here.
"""

from __future__ import annotations

from queueservice.engine.formats import WRITERS


def shape(value, schema_name: str | None, document, enum_ints: bool = False, int64_strings: bool = False):
    """`value` (a handler's answer for `schema_name`) with its typed fields written for the wire;
    with `int64_strings`, int64 fields as JSON strings (Google's convention; an API opts in)."""
    mode = (enum_ints, int64_strings)
    if schema_name is None or not _needs_shaping(document, schema_name, mode):
        return value
    return _object(value, document.schemas.get(schema_name, {}), document.schemas, mode)


_ANALYSED = {}
_INT64 = ("int64", "uint64")


def _needs_shaping(document, schema_name: str, mode: tuple) -> bool:
    key = (id(document), mode)  # documents live as long as the process
    if key not in _ANALYSED:
        _ANALYSED[key] = _shaped_schemas(document.schemas, mode)
    return schema_name in _ANALYSED[key]


def _shaped_schemas(schemas: dict, mode: tuple) -> frozenset:
    """Names of the schemas that hold (at any depth) a field this module writes."""
    memo = {}

    def field_needs(spec, seen):
        if "$ref" in spec:
            return schema_needs(spec["$ref"], seen)
        enum_ints, int64_strings = mode
        if spec.get("format") in WRITERS or (enum_ints and "enum" in spec) \
                or (int64_strings and spec.get("format") in _INT64):
            return True
        if spec.get("type") == "array":
            return field_needs(spec.get("items", {}), seen)
        if spec.get("type") == "object":
            props = list(spec.get("properties", {}).values())
            extra = spec.get("additionalProperties")
            return any(field_needs(p, seen) for p in props + ([extra] if isinstance(extra, dict) else []))
        return False

    def schema_needs(name, seen):
        if name in memo:
            return memo[name]
        if name in seen:
            return False
        result = field_needs(schemas.get(name, {}) | {"type": "object"}, seen | {name})
        memo[name] = result
        return result

    return frozenset(name for name in schemas if schema_needs(name, frozenset()))


def _object(value, spec, schemas, mode):
    if not isinstance(value, dict):
        return value
    props = spec.get("properties", {})
    extra = spec.get("additionalProperties")
    out = {}
    for key, item in value.items():
        field = props.get(key, extra if isinstance(extra, dict) else None)
        out[key] = item if field is None else _value(item, field, schemas, mode)
    return out


def _value(item, spec, schemas, mode):
    if item is None:
        return None
    if "$ref" in spec:
        return _object(item, schemas.get(spec["$ref"], {}), schemas, mode)
    kind = spec.get("type")
    if kind == "array" and isinstance(item, list):
        return [_value(x, spec.get("items", {}), schemas, mode) for x in item]
    if kind == "object":
        return _object(item, spec, schemas, mode)
    writer = WRITERS.get(spec.get("format"))
    if writer is not None and not isinstance(item, str):
        return writer(item)
    enum_ints, int64_strings = mode
    if int64_strings and spec.get("format") in _INT64 and isinstance(item, int) and not isinstance(item, bool):
        return str(item)
    if enum_ints and "enum" in spec and item in spec["enum"]:
        return spec["enum"].index(item)
    return item
