"""Answers written as Google writes them: typed values of handlers turned into wire strings.

Handlers return µs ints for google-datetime and google-duration fields, bytes for byte fields and
lists for field masks; this writes RFC 3339, `"3.5s"`, base64 and `"a,b"`, and enum names as
numbers when the client asked `$alt=json;enum-encoding=int`. Schemas without such fields are
left alone, so answers of older documents cost nothing here.
"""

from __future__ import annotations

from queueservice.engine.formats import WRITERS


def shape(value, schema_name: str | None, document, enum_ints: bool = False):
    """`value` (a handler's answer for `schema_name`) with its typed fields written for the wire."""
    if schema_name is None or not _needs_shaping(document, schema_name, enum_ints):
        return value
    return _object(value, document.schemas.get(schema_name, {}), document.schemas, enum_ints)


_ANALYSED = {}


def _needs_shaping(document, schema_name: str, enum_ints: bool) -> bool:
    key = (id(document), enum_ints)  # documents live as long as the process
    if key not in _ANALYSED:
        _ANALYSED[key] = _shaped_schemas(document.schemas, enum_ints)
    return schema_name in _ANALYSED[key]


def _shaped_schemas(schemas: dict, enum_ints: bool) -> frozenset:
    """Names of the schemas that hold (at any depth) a field this module writes."""
    memo = {}

    def field_needs(spec, seen):
        if "$ref" in spec:
            return schema_needs(spec["$ref"], seen)
        if spec.get("format") in WRITERS or (enum_ints and "enum" in spec):
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


def _object(value, spec, schemas, enum_ints):
    if not isinstance(value, dict):
        return value
    props = spec.get("properties", {})
    extra = spec.get("additionalProperties")
    out = {}
    for key, item in value.items():
        field = props.get(key, extra if isinstance(extra, dict) else None)
        out[key] = item if field is None else _value(item, field, schemas, enum_ints)
    return out


def _value(item, spec, schemas, enum_ints):
    if item is None:
        return None
    if "$ref" in spec:
        return _object(item, schemas.get(spec["$ref"], {}), schemas, enum_ints)
    kind = spec.get("type")
    if kind == "array" and isinstance(item, list):
        return [_value(x, spec.get("items", {}), schemas, enum_ints) for x in item]
    if kind == "object":
        return _object(item, spec, schemas, enum_ints)
    writer = WRITERS.get(spec.get("format"))
    if writer is not None and not isinstance(item, str):
        return writer(item)
    if enum_ints and "enum" in spec and item in spec["enum"]:
        return spec["enum"].index(item)
    return item
