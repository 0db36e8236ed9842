"""Our cloudtasks_v2.api describes the same API as Google's Cloud Tasks v2 document, in our own
words, and the engine can load and route it. (It is not served yet: its module comes next.)"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.routing import Map, Rule

from queueservice.engine.calls import PatternConverters, build_routes
from queueservice.engine.discovery import load_document
from tests.helpers import methods_of

REPO = Path(__file__).resolve().parent.parent
OURS = REPO / "queueservice" / "apis" / "cloudtasks_v2.api"
# A structural copy of Google's document (revision 20261005): ids, paths, parameters and schemas,
# without Google's prose.
GOOGLE = REPO / "tests" / "fixtures" / "google_cloudtasks_v2.json"

# Keys whose values are maps from names to specs; everywhere else a dict is one spec.
NAMED = {"properties", "parameters", "schemas", "methods", "resources"}
PROSE = {"description", "enumDescriptions"}




def _without_prose(node, named=False):
    """The document's structure: every description and enumDescriptions left out, but not the
    properties that happen to be called `description` or `title` (as Expr's are)."""
    if isinstance(node, list):
        return [_without_prose(v) for v in node]
    if not isinstance(node, dict):
        return node
    if named:
        return {k: _without_prose(v) for k, v in node.items()}
    return {k: _without_prose(v, k in NAMED) for k, v in node.items() if k not in PROSE}


def _prose(node, where="", named=False):
    """(where, text) for every description and enum description in a document."""
    if isinstance(node, list):
        for i, v in enumerate(node):
            yield from _prose(v, f"{where}[{i}]")
        return
    if not isinstance(node, dict):
        return
    for k, v in node.items():
        here = f"{where}/{k}"
        if named:
            yield from _prose(v, here)
        elif k == "description" and isinstance(v, str):
            yield here, v
        elif k == "enumDescriptions":
            yield from ((f"{here}[{i}]", text) for i, text in enumerate(v))
        else:
            yield from _prose(v, here, k in NAMED)


def _installed_google_document():
    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or not spec.origin:
        pytest.skip("google-api-python-client is not installed")
    path = Path(spec.origin).parent / "discovery_cache" / "documents" / "cloudtasks.v2.json"
    if not path.exists():
        pytest.skip(f"no bundled Cloud Tasks v2 document at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ours():
    return json.loads(OURS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def google():
    return json.loads(GOOGLE.read_text(encoding="utf-8"))


# --- the same API --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["id", "name", "version", "servicePath", "basePath", "batchPath", "protocol",
                                 "canonicalName", "revision"])
def test_identity_matches(ours, google, key):
    assert ours[key] == google[key]


def test_root_url_is_local(ours):
    """The server puts the address the client used in its place when it serves the document."""
    assert ours["rootUrl"] == ours["baseUrl"] == "http://localhost:8080/"


def test_same_global_parameters(ours, google):
    assert _without_prose(ours["parameters"], named=True) == _without_prose(google["parameters"], named=True)


def test_same_method_ids(ours, google):
    assert set(methods_of(ours)) == set(methods_of(google))
    assert len(methods_of(ours)) == 24


def test_methods_have_same_paths_verbs_parameters_and_bodies(ours, google):
    mine, theirs = methods_of(ours), methods_of(google)
    for method_id, g in theirs.items():
        m = mine[method_id]
        for key in ("path", "flatPath", "httpMethod", "parameterOrder", "request", "response"):
            assert m.get(key) == g.get(key), (method_id, key)
        assert set(m.get("parameters", {})) == set(g.get("parameters", {})), method_id
        for name, gp in g.get("parameters", {}).items():
            mp = m["parameters"][name]
            for key in ("type", "format", "location", "required", "pattern", "enum", "repeated",
                        "minimum", "maximum", "default"):
                assert mp.get(key) == gp.get(key), (method_id, name, key)


def test_methods_carry_nothing_else_but_prose_and_scopes(ours, google):
    """Whatever else a method of Google's has (a new key in a later revision), ours has too."""
    mine, theirs = methods_of(ours), methods_of(google)
    for method_id, g in theirs.items():
        g = {k: v for k, v in g.items() if k != "scopes"}
        assert _without_prose(mine[method_id]) == _without_prose(g), method_id


def test_same_schemas(ours, google):
    assert len(google["schemas"]) == 43
    assert _without_prose(ours["schemas"], named=True) == _without_prose(google["schemas"], named=True)


def test_a_property_named_description_is_structure_not_prose(ours, google):
    """Expr has properties called description and title: the comparison must keep them."""
    for doc in (ours, google):
        assert set(_without_prose(doc["schemas"], named=True)["Expr"]["properties"]) == {
            "description", "expression", "location", "title"}


def test_no_auth_scopes(ours):
    assert "auth" not in ours
    assert all("scopes" not in m for m in methods_of(ours).values())


def test_fixture_carries_no_prose(google):
    assert list(_prose(google)) == []
    assert not {"title", "documentationLink", "icons"} & set(google)


# --- in our words --------------------------------------------------------------------------


def test_everything_is_described(ours):
    assert ours["description"] and ours["title"]
    missing = [f"?{n}" for n, p in ours["parameters"].items() if not p.get("description")]
    for method_id, m in methods_of(ours).items():
        if not m.get("description"):
            missing.append(method_id)
        missing += [f"{method_id}?{n}" for n, p in m.get("parameters", {}).items() if not p.get("description")]
    for name, schema in ours["schemas"].items():
        if not schema.get("description"):
            missing.append(name)
        missing += [f"{name}.{p}" for p, spec in schema.get("properties", {}).items() if not spec.get("description")]
    assert missing == []


def test_every_enum_value_is_described(ours):
    def specs(node, named=False):
        if isinstance(node, dict):
            if not named:
                yield node
            for k, v in node.items():
                yield from specs(v, k in NAMED and not named)

    enums = [s for s in specs(ours) if "enum" in s]
    assert enums
    for spec in enums:
        assert len(spec.get("enumDescriptions", [])) == len(spec["enum"]), spec
        assert all(spec["enumDescriptions"]), spec


def test_descriptions_are_short_plain_text(ours):
    for where, text in _prose(ours):
        assert text == text.strip() and "\n" not in text, where
        assert len(text) <= 400, where
        assert "](http" not in text and "<a " not in text, where  # no links copied from Google's pages


def test_no_description_is_googles():
    """Compared with Google's own document as bundled in google-api-python-client: no text of
    ours equals any of Google's, and none shares a run of eight words with Google's prose."""
    theirs = dict(_prose(_installed_google_document()))
    mine = dict(_prose(json.loads(OURS.read_text(encoding="utf-8"))))
    assert len(theirs) > 250 and len(mine) > 250
    googles = set(theirs.values())
    assert [w for w, text in mine.items() if text in googles] == []

    def runs(text, n=8):
        words = re.findall(r"[a-z0-9_]+", text.lower())
        return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}

    google_runs = set().union(*(runs(t) for t in theirs.values()))
    shared = [(w, " ".join(r)) for w, text in mine.items() for r in runs(text) if r in google_runs]
    assert shared == []


# --- the engine takes it --------------------------------------------------------------------


def test_the_engine_loads_and_routes_it_without_ambiguity():
    doc = load_document(OURS)
    assert len(doc.methods) == 24
    routes = build_routes([SimpleNamespace(document=doc, aliases={})])
    assert len(routes) == 24


def _url_map(doc):
    """As the app routes a document: werkzeug rules with one converter per `{+x}` pattern."""
    converters = PatternConverters()
    routes = build_routes([SimpleNamespace(document=doc, aliases={})], converters)
    url_map = Map([Rule(r.rule, endpoint=i, methods=[r.method.http_method]) for i, r in enumerate(routes)],
                  converters=converters.classes(), strict_slashes=False, merge_slashes=False)
    return routes, url_map.bind("localhost")


def test_each_flat_path_reaches_its_own_method():
    doc = load_document(OURS)
    routes, urls = _url_map(doc)
    for method in doc.methods:
        url = "/" + re.sub(r"\{([^}]+)\}", lambda m: m.group(1).lower() + "-1", method.flat_path)
        index, _ = urls.match(url, method=method.http_method)
        assert routes[index].method.id == method.id, (url, routes[index].method.id)


def test_each_method_gets_its_path_values_whole():
    """`{+name}` takes the whole resource name, slashes and all; `{taskId}` one segment."""
    doc = load_document(OURS)
    routes, urls = _url_map(doc)
    for method in doc.methods:
        values = {}
        for name, param in method.parameters.items():
            if param.location != "path":
                continue
            if param.pattern:
                ids = iter(range(1, 10))
                values[name] = re.sub(r"\[\^/\]\+", lambda m: f"id{next(ids)}",
                                      param.pattern.removeprefix("^").removesuffix("$"))
            else:
                values[name] = "task-7"
        url = "/" + re.sub(r"\{\+?([^}]+)\}", lambda m: values[m.group(1)], method.path)
        index, found = urls.match(url, method=method.http_method)
        route = routes[index]
        assert route.method.id == method.id, (url, route.method.id)
        assert {route.variables[k]: v for k, v in found.items()} == values, method.id


def test_googleapiclient_builds_a_client_from_it_without_credentials(ours):
    discovery = pytest.importorskip("googleapiclient.discovery")
    service = discovery.build_from_document(ours)
    request = service.projects().locations().queues().tasks().create(
        parent="projects/p/locations/l/queues/q", body={"task": {}})
    assert request.method == "POST"
    assert request.uri.startswith("http://localhost:8080/v2/projects/p/locations/l/queues/q/tasks?")
