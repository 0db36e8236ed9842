"""Checks request bodies against the document's schemas and converts their typed fields.

int64 fields are strings in discovery documents; clients send numbers or numeric strings,
so both are accepted and turned into ints. Unknown fields are ignored, as Google did. A field may
also be named as its proto field is (`schedule_time` for `scheduleTime`), as Google's JSON parser
takes it; it is read under the document's name.
"""

from __future__ import annotations

from queueservice.engine.discovery import Parameter
from queueservice.errors import InvalidArgument
from queueservice.engine.params import convert

_MAX_DEPTH = 32


def check_body(body, schema_name: str, schemas: dict, where: str = "") -> dict:
    """Return a copy of the JSON object `body` with typed fields checked and converted."""
    return _object(body, schemas.get(schema_name, {}), schemas, where, 0)


def _object(value, schema, schemas, where, depth):
    if not isinstance(value, dict):
        raise InvalidArgument(f"Invalid value for {where or 'the request body'}: expected a JSON object",
                              location=where or None, location_type="body")
    if depth > _MAX_DEPTH:
        raise InvalidArgument("Request body nests too deeply")
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")  # a map's values (`headers`) have a type too
    extra = extra if isinstance(extra, dict) else None
    out = {}
    for key, item in value.items():
        if key not in props and extra is None and "_" in key:
            camel = _lower_camel(key)
            if camel in props and camel not in value:
                key = camel
        spec = props.get(key, extra)
        out[key] = item if spec is None else _value(item, spec, schemas, f"{where}.{key}" if where else key, depth)
    return out


def _lower_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


#: id(spec) -> (spec, its Parameter): built once per field of a document, not per request. The
#: entry holds the spec, so its id cannot be reused while the entry lives.
_PARAMETERS = {}


def _parameter_of(spec: dict) -> Parameter:
    entry = _PARAMETERS.get(id(spec))
    if entry is None or entry[0] is not spec:
        entry = _PARAMETERS[id(spec)] = (spec, Parameter.from_spec("", spec))
    return entry[1]


def _value(item, spec, schemas, where, depth):
    if item is None:
        return None
    if "$ref" in spec:
        spec = schemas.get(spec["$ref"], {})
    kind = spec.get("type")
    if kind == "object":
        return _object(item, spec, schemas, where, depth + 1)
    if kind == "array":
        if not isinstance(item, list):
            raise InvalidArgument(f"Invalid value for {where}: expected a JSON array",
                                  location=where, location_type="body")
        return [_value(x, spec.get("items", {}), schemas, f"{where}[{i}]", depth + 1) for i, x in enumerate(item)]
    param = _parameter_of(spec)
    if kind == "boolean":
        if isinstance(item, bool):
            return item
        raise InvalidArgument(f"Invalid value for {where}: expected true or false",
                              location=where, location_type="body")
    numeric = kind in ("integer", "number") or spec.get("format") in ("int64", "uint64")
    if numeric:
        if isinstance(item, bool) or not isinstance(item, (int, float, str)):
            raise InvalidArgument(f"Invalid value for {where}: expected a number",
                                  location=where, location_type="body")
        if isinstance(item, float):
            if not item.is_integer() and kind != "number":
                raise InvalidArgument(f"Invalid value for {where}: expected a whole number",
                                      location=where, location_type="body")
            raw = str(int(item)) if kind != "number" else repr(item)
        else:
            raw = str(item).strip()
        return convert(param, raw, location_type="body", name=where)
    if kind == "string":
        if param.enum is not None and isinstance(item, int) and not isinstance(item, bool):
            item = str(item)  # an enum by number, as protobuf JSON allows
        if not isinstance(item, str):
            raise InvalidArgument(f"Invalid value for {where}: expected a string",
                                  location=where, location_type="body")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument(f"Invalid value for {where}: not valid Unicode",
                                  location=where, location_type="body") from None
        return convert(param, item, location_type="body", name=where)
    return item
