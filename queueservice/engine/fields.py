"""Partial responses: the `fields` selector of Google APIs (e.g. `items(id,tag),kind`)."""

from __future__ import annotations

import re

from queueservice.errors import InvalidArgument

_NAME = re.compile(r"[A-Za-z0-9_$.@*-]+")
_MAX_LENGTH = 4096


def parse(selector: str) -> dict:
    """Parse a selector into a tree {name: subtree or None (everything below)}."""
    if len(selector) > _MAX_LENGTH:
        raise _bad(selector, "too long")
    text = re.sub(r"\s+", "", selector)
    tree, pos = _fields(text, 0, selector, depth=0)
    if pos != len(text):
        raise _bad(selector, f"unexpected '{text[pos]}' at position {pos}")
    return tree


def _bad(selector, why):
    shown = selector if len(selector) <= 64 else selector[:61] + "..."
    return InvalidArgument(f"Invalid field selection '{shown}': {why}", location="fields")


def _fields(text, pos, selector, depth):
    if depth > 16:
        raise _bad(selector, "nested too deeply")
    tree = {}
    while True:
        match = _NAME.match(text, pos)
        if not match:
            raise _bad(selector, f"expected a field name at position {pos}")
        path = [match.group()]
        pos = match.end()
        while pos < len(text) and text[pos] == "/":
            match = _NAME.match(text, pos + 1)
            if not match:
                raise _bad(selector, f"expected a field name after '/' at position {pos}")
            path.append(match.group())
            pos = match.end()
        sub = None
        if pos < len(text) and text[pos] == "(":
            sub, pos = _fields(text, pos + 1, selector, depth + 1)
            if pos >= len(text) or text[pos] != ")":
                raise _bad(selector, "unbalanced parentheses")
            pos += 1
        for name in reversed(path[1:]):
            sub = {name: sub}
        _merge(tree, path[0], sub)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        return tree, pos


def _merge(tree, name, sub):
    if name in tree:
        old = tree[name]
        if old is None or sub is None:
            tree[name] = None
        else:
            for key, value in sub.items():
                _merge(old, key, value)
    else:
        tree[name] = sub


def apply(value, tree):
    """Keep only the selected parts of a JSON value; lists are filtered element by element."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [apply(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for name, sub in tree.items():
        if name == "*":
            for key, item in value.items():
                out[key] = apply(item, sub)
        elif name in value:
            out[name] = apply(value[name], sub)
    return out


def check(tree: dict, schema_name: str | None, schemas: dict, selector: str) -> None:
    """Refuse a selector naming a field the response schema does not have (as Google did)."""
    if schema_name and schema_name in schemas:
        _check(tree, schemas[schema_name], schemas, selector, 0)


def _check(tree, schema, schemas, selector, depth):
    while "$ref" in schema and depth < 32:
        schema = schemas.get(schema["$ref"], {})
        depth += 1
    if schema.get("type") == "array":
        return _check(tree, schema.get("items", {}), schemas, selector, depth + 1)
    props = schema.get("properties")
    if props is None or depth > 32:
        return
    for name, sub in tree.items():
        if name == "*":
            continue
        if name not in props:
            raise _bad(selector, f"unknown field '{name}'")
        if sub is not None:
            _check(sub, props[name], schemas, selector, depth + 1)
