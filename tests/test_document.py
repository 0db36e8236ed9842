"""Our taskqueue_v1beta2.api describes the same API as Google's final discovery document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from queueservice.engine.binding import load_api, resolve_handlers
from tests.helpers import methods_of

REPO = Path(__file__).resolve().parent.parent
OURS = REPO / "queueservice" / "apis" / "taskqueue_v1beta2.api"
# A structural copy of Google's final document (revision 20160428): ids, paths, parameters and
# schemas, without Google's prose.
GOOGLE = REPO / "tests" / "fixtures" / "google_taskqueue_v1beta2.json"




@pytest.fixture(scope="module")
def ours():
    return json.loads(OURS.read_text())


@pytest.fixture(scope="module")
def google():
    if not GOOGLE.exists():
        pytest.fail(f"Google's discovery document is expected at {GOOGLE}")
    return json.loads(GOOGLE.read_text())


@pytest.mark.parametrize("key", ["id", "name", "version", "servicePath", "basePath", "batchPath", "protocol"])
def test_identity_matches(ours, google, key):
    assert ours[key] == google[key]


def test_same_method_ids(ours, google):
    assert set(methods_of(ours)) == set(methods_of(google))


def test_methods_have_same_paths_verbs_parameters_and_bodies(ours, google):
    mine, theirs = methods_of(ours), methods_of(google)
    for method_id, g in theirs.items():
        m = mine[method_id]
        assert (m["path"], m["httpMethod"]) == (g["path"], g["httpMethod"]), method_id
        assert m.get("parameterOrder") == g.get("parameterOrder"), method_id
        assert m.get("request") == g.get("request") and m.get("response") == g.get("response"), method_id
        assert set(m["parameters"]) == set(g["parameters"]), method_id
        for name, gp in g["parameters"].items():
            mp = m["parameters"][name]
            for key in ("type", "format", "location", "required", "repeated", "enum"):
                assert mp.get(key) == gp.get(key), (method_id, name, key)


def test_same_global_parameters(ours, google):
    assert set(ours["parameters"]) == set(google["parameters"])
    for name, gp in google["parameters"].items():
        for key in ("type", "location", "enum", "default"):
            assert ours["parameters"][name].get(key) == gp.get(key), name


def test_same_schemas(ours, google):
    def shape(schema):
        if isinstance(schema, dict):
            return {k: shape(v) for k, v in schema.items() if k != "description"}
        return schema

    assert shape(ours["schemas"]) == shape(google["schemas"])


def test_no_auth_scopes(ours):
    assert "auth" not in ours
    assert all("scopes" not in m for m in methods_of(ours).values())


def test_every_method_has_a_description(ours):
    """Ours describes each method. That the wording is our own is not checked here: the fixture copy
    of Google's document carries none of Google's prose to compare with."""
    assert [i for i, m in methods_of(ours).items() if not m.get("description")] == []


def test_module_implements_exactly_the_document():
    doc, module = load_api("queueservice.apis.taskqueue_v1beta2")
    assert doc.path == OURS
    handlers = resolve_handlers(doc, module)
    assert set(handlers) == {m.id for m in doc.methods}
