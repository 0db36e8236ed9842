"""The engine on a tiny fixture API: routes, parameter and body checks, fields, errors, discovery."""

from __future__ import annotations

import json
import shutil

import fakeredis
import pytest

from queueservice.engine.app import create_app
from queueservice.config import Settings
from queueservice.engine.discovery import DocumentError

from tests.helpers import expect_json_error

FIXTURE = __import__("pathlib").Path(__file__).parent / "fixtures" / "engine_api"


@pytest.fixture
def echo_app():
    settings = Settings(redis_url="redis://unused", served_apis=(str(FIXTURE / "echo_v1.api"),), log_level="WARNING",
                        allowed_hosts=frozenset({"example.test", "h"}))
    return create_app(settings, redis_client=fakeredis.FakeRedis())


@pytest.fixture
def web(echo_app):
    return echo_app.test_client()


def test_route_passes_typed_values(web):
    r = web.get("/echo/v1/things/abc?needed=x&count=3&big=9007199254740993&flag=TRUE&color=red&tags=a&tags=b")
    assert r.status_code == 200
    assert r.get_json() == {"thing": "abc", "needed": "x", "count": 3, "big": 9007199254740993,
                            "flag": True, "color": "red", "mode": "plain", "code": None,
                            "tags": ["a", "b"]}


def test_default_fills_an_absent_parameter(web):
    assert web.get("/echo/v1/things/a?needed=x").get_json()["mode"] == "plain"


def test_nested_resource_method_is_routed(web):
    r = web.get("/echo/v1/things/t1/parts")
    assert [p["part"] for p in r.get_json()["items"]] == [1, 2]


def test_reserved_expansion_takes_slashes(web):
    r = web.put("/echo/v1/things/a/b/c", json={})
    assert r.get_json()["name"] == "a/b/c"


def test_api_is_also_served_at_the_host_root(web):
    assert web.get("/things/abc?needed=x").get_json()["thing"] == "abc"


def test_missing_required_parameter_is_400_required(web):
    error = expect_json_error(web.get("/echo/v1/things/a"), 400, "required", "needed")
    assert error["errors"][0]["location"] == "needed"


@pytest.mark.parametrize("query,where", [
    ("count=0", "count"), ("count=11", "count"), ("count=x", "count"), ("count=1.5", "count"),
    ("big=99999999999999999999", "big"), ("flag=yes", "flag"), ("color=green", "color"),
    ("code=abc", "code"), ("count=1&count=2", "count"),
])
def test_typed_parameter_errors_are_400_invalid(web, query, where):
    error = expect_json_error(web.get(f"/echo/v1/things/a?needed=x&{query}"), 400, "invalid", where)
    assert error["errors"][0]["location"] == where


def test_int32_range_is_checked_before_minimum(web):
    expect_json_error(web.get("/echo/v1/things/a?needed=x&count=4294967296"), 400, "invalid", "int32")


def test_body_int64_accepts_numbers_and_numeric_strings(web):
    r = web.put("/echo/v1/things/n", json={"size": "12", "inner": {"when": 5}, "child": {"size": 7}})
    assert r.get_json()["body"] == {"size": 12, "inner": {"when": 5}, "child": {"size": 7}}


@pytest.mark.parametrize("body,where", [
    ({"size": "twelve"}, "size"), ({"count": 2**31}, "count"), ({"flag": "true"}, "flag"),
    ({"name": 5}, "name"), ({"name": "ABC"}, "name"), ({"labels": "x"}, "labels"),
    ({"inner": []}, "inner"), ({"child": {"size": "x"}}, "child.size"), ({"size": 1.5}, "size"),
    ({"size": True}, "size"),
])
def test_body_type_errors_are_400_invalid(web, body, where):
    error = expect_json_error(web.put("/echo/v1/things/n", json=body), 400, "invalid", where)
    assert error["errors"][0]["location"] == where


@pytest.mark.parametrize("data", [b"{", b"[1]", b"\xff\xfe", b'{"a": NaN}', b"[" * 100000])
def test_malformed_bodies_are_400(web, data):
    r = web.put("/echo/v1/things/n", data=data, content_type="application/json")
    assert r.status_code == 400
    assert r.get_json()["error"]["errors"][0]["reason"] in ("parseError", "invalid")


def test_unknown_body_fields_are_kept_for_the_handler(web):
    assert web.put("/echo/v1/things/n", json={"other": 1}).get_json()["body"] == {"other": 1}


def test_handler_answering_none_is_204(web):
    r = web.delete("/echo/v1/things/x")
    assert r.status_code == 204 and r.data == b""


def test_unknown_route_is_404_json(web):
    expect_json_error(web.get("/no/such/thing"), 404, "notFound")


def test_wrong_method_is_405_json(web):
    expect_json_error(web.post("/echo/v1/things/x/parts"), 405, "httpMethodNotAllowed")


def test_oversized_body_is_413_json():
    settings = Settings(redis_url="redis://unused", served_apis=(str(FIXTURE / "echo_v1.api"),), log_level="WARNING",
                        max_request_bytes=100)
    r = create_app(settings, redis_client=fakeredis.FakeRedis()).test_client().put("/echo/v1/things/n", data=b"{" + b" " * 200 + b"}",
                                   content_type="application/json")
    expect_json_error(r, 413, "payloadTooLarge")


def test_handler_bug_is_500_without_a_trace(web):
    r = web.post("/echo/v1/fail")
    error = expect_json_error(r, 500, "backendError")
    assert "RuntimeError" not in r.get_data(as_text=True)
    assert "Traceback" not in error["message"]


def test_fields_selects_parts_of_the_answer(web):
    r = web.get("/echo/v1/things/t/parts?fields=items(part)")
    assert r.get_json() == {"items": [{"part": 1}, {"part": 2}]}


def test_fields_with_a_path_and_wildcard(web):
    r = web.put("/echo/v1/things/n?fields=body/inner,name", json={"inner": {"when": 1}, "size": 2})
    assert r.get_json() == {"body": {"inner": {"when": 1}}, "name": "n"}
    r = web.get("/echo/v1/things/t/parts?fields=*")
    assert len(r.get_json()["items"]) == 2


@pytest.mark.parametrize("selector", ["items(", "items)", "a,,b", "", "a(b))", "a/"])
def test_malformed_fields_is_400(web, selector):
    if selector == "":
        assert web.get("/echo/v1/things/t/parts?fields=").status_code == 200
        return
    expect_json_error(web.get(f"/echo/v1/things/t/parts?fields={selector}"), 400, "invalid", "field")


def test_pretty_print_false_answers_compact_json(web):
    text = web.get("/echo/v1/things/t/parts?prettyPrint=false").get_data(as_text=True)
    assert "\n" not in text and json.loads(text)["items"]


def test_alt_other_than_json_is_400(web):
    expect_json_error(web.get("/echo/v1/things/t/parts?alt=proto"), 400, "invalid", "alt")


def test_directory_lists_loaded_apis_with_their_urls(web):
    body = web.get("/discovery/v1/apis", base_url="http://example.test:9000").get_json()
    (item,) = body["items"]
    assert item["id"] == "echo:v1"
    assert item["discoveryRestUrl"] == "http://example.test:9000/discovery/v1/apis/echo/v1/rest"


def test_served_document_points_at_the_host_used(web):
    doc = web.get("/discovery/v1/apis/echo/v1/rest", base_url="http://h:1").get_json()
    assert doc["rootUrl"] == "http://h:1/"
    assert doc["baseUrl"] == "http://h:1/echo/v1/"


def test_served_document_honours_forwarded_headers(web):
    doc = web.get("/discovery/v1/apis/echo/v1/rest", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "queues.example.com",
        "X-Forwarded-Prefix": "/tq"}).get_json()
    assert doc["rootUrl"] == "https://queues.example.com/tq/"


def test_dollar_discovery_form(web):
    assert web.get("/$discovery/rest?version=v1").get_json()["name"] == "echo"
    expect_json_error(web.get("/$discovery/rest?version=v9"), 404, "notFound")
    expect_json_error(web.get("/$discovery/rest"), 400, "required")


def test_unknown_api_document_is_404(web):
    expect_json_error(web.get("/discovery/v1/apis/nope/v1/rest"), 404, "notFound")


def _copy_fixture(tmp_path, name, source):
    folder = tmp_path / name
    shutil.copytree(FIXTURE, folder)
    (folder / "echo_v1.py").write_text(source)
    return folder


@pytest.mark.parametrize("change,message", [
    (lambda s: s.replace("def things_remove", "def _things_remove"), "things_remove is missing"),
    (lambda s: s + "\n\ndef things_extra(backend):\n    return {}\n", "implements no method"),
    (lambda s: s.replace("def things_put(backend, name, body)", "def things_put(backend, name)"),
     "things_put"),
])
def test_document_and_module_must_match_at_start_up(tmp_path, change, message):
    source = (FIXTURE / "echo_v1.py").read_text()
    folder = _copy_fixture(tmp_path, f"mismatch_{abs(hash(message)) % 10**6}", change(source))
    settings = Settings(redis_url="redis://unused", served_apis=(str(folder / "echo_v1.api"),), log_level="WARNING")
    with pytest.raises(DocumentError, match=message):
        create_app(settings, redis_client=fakeredis.FakeRedis())


def test_fields_naming_an_unknown_field_is_400(web):
    expect_json_error(web.put("/echo/v1/things/n?fields=body/nope", json={}), 400, "invalid", "nope")
    expect_json_error(web.put("/echo/v1/things/n?fields=other", json={}), 400, "invalid", "other")


def test_batch_path_of_an_unknown_api_is_404(web):
    expect_json_error(web.post("/batch/nope/v1", data="x", content_type="multipart/mixed; boundary=b"),
                      404, "notFound")


def test_cross_site_browser_posts_are_refused(web):
    r = web.put("/echo/v1/things/n", json={}, headers={"Origin": "http://evil.example"})
    expect_json_error(r, 403, "forbidden", "evil.example")
    r = web.put("/echo/v1/things/n", json={}, headers={"Origin": "http://localhost"})
    assert r.status_code == 200
    assert web.put("/echo/v1/things/n", json={}).status_code == 200


def test_unknown_log_level_stops_start_up():
    with pytest.raises(SystemExit, match="LOG_LEVEL"):
        Settings.from_env({"LOG_LEVEL": "verbose"})


def _answers(web, calls=None):
    """Status, headers and body of calls that reach every branch around an API method."""
    calls = calls or [("get", "/echo/v1/things/abc?needed=x&count=3&tags=a&tags=b", {}),
             ("get", "/echo/v1/things/abc?needed=y", {}),
             ("get", "/things/abc?needed=x&prettyPrint=false", {}),
             ("get", "/echo/v1/things/a", {}),
             ("get", "/echo/v1/things/a?needed=x&count=nope&$.xgafv=2", {}),
             ("head", "/echo/v1/things/a?needed=x", {}),
             ("options", "/echo/v1/things/a", {}),
             ("put", "/echo/v1/things/a/b", {"data": b'{"x": ', "content_type": "application/json"}),
             ("put", "/echo/v1/things/n", {"json": {}, "headers": {"Origin": "http://evil.example"}}),
             ("delete", "/echo/v1/things/a", {}),
             ("post", "/echo/v1/things/a", {}),
             ("post", "/echo/v1/fail", {}),
             ("get", "/echo/v1/nothing/here", {})]
    out = []
    for verb, path, kwargs in calls:
        r = getattr(web, verb)(path, **kwargs)
        out.append((verb, path, r.status, list(r.headers.items()), r.data))
    return out


def _both_ways(app, calls=None) -> tuple:
    """The answers to `calls` on the direct path, then through Flask (a receiver of Flask's request
    signals sends every request there)."""
    import flask

    direct = _answers(app.test_client(), calls)

    def receiver(sender, **extra):
        pass

    flask.request_started.connect(receiver, app)
    try:
        return direct, _answers(app.test_client(), calls)
    finally:
        flask.request_started.disconnect(receiver, app)


def test_a_host_routing_cannot_bind_is_answered_as_flask_does():
    settings = Settings(redis_url="redis://unused", served_apis=(str(FIXTURE / "echo_v1.api"),), log_level="WARNING",
                        allowed_hosts=frozenset({"*"}))
    app = create_app(settings, redis_client=fakeredis.FakeRedis())
    calls = [("get", "/echo/v1/things/a?needed=x", {"headers": {"Host": "a" * 70 + ".example"}})]
    direct, through_flask = _both_ways(app, calls)
    assert direct[0][2] == "400 BAD REQUEST"
    assert direct == through_flask


def test_api_calls_answer_as_flask_does(echo_app, monkeypatch):
    """API methods skip Flask's request machinery; with a receiver on Flask's request signals every
    request goes through Flask, and the answers are the same to the byte."""
    import flask

    contexts = []
    monkeypatch.setattr(echo_app, "request_context", lambda environ: contexts.append(environ["PATH_INFO"])
                        or flask.Flask.request_context(echo_app, environ))
    direct = _answers(echo_app.test_client())
    assert len(contexts) == 4  # HEAD, OPTIONS, 405 and 404 went to Flask
    seen = []

    def receiver(sender, **extra):
        seen.append(sender)

    flask.request_started.connect(receiver, echo_app)
    try:
        through_flask = _answers(echo_app.test_client())
    finally:
        flask.request_started.disconnect(receiver, echo_app)
    assert len(seen) == len(through_flask)
    assert direct == through_flask
