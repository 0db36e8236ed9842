"""The engine on a fixture in the style of Google's newer documents (Cloud Tasks v2): `{+name}`
routes told apart by their patterns, custom `:verb` methods, an empty servicePath, the string
formats, enums by name or number, and `$alt=json;enum-encoding=int` as the official REST clients send."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import fakeredis
import pytest

from queueservice.engine.app import create_app
from queueservice.config import Settings
from queueservice.engine.discovery import DocumentError


FIXTURE = Path(__file__).parent / "fixtures" / "engine_api_v2"
Q = "/v2/projects/p/locations/l/queues/q"


def expect_v2_error(response, status: int, code: str, message_part: str = "") -> dict:
    """Google's v2 error body: code, message, status (the canonical code's name), details."""
    error = response.get_json()["error"]
    assert response.status_code == status and error["code"] == status, error
    assert error["status"] == code and message_part in error["message"], error
    assert error["details"] == [] and "errors" not in error
    return error


@pytest.fixture(scope="module")
def web():
    settings = Settings(redis_url="redis://unused", served_apis=(str(FIXTURE / "tasky_v2.api"),), log_level="WARNING")
    return create_app(settings, redis_client=fakeredis.FakeRedis()).test_client()


def test_five_methods_on_one_template_each_reach_their_own_handler(web):
    assert web.get("/v2/projects/p/locations/l").get_json() == {"name": "projects/p/locations/l", "kind": "location"}
    assert web.get(Q).get_json()["state"] == "RUNNING"
    assert web.get(Q + "/tasks/t1").get_json() == {"name": "projects/p/locations/l/queues/q/tasks/t1", "view": "BASIC"}
    assert web.patch(Q, json={}).get_json()["name"] == "projects/p/locations/l/queues/q"


def test_a_custom_verb_is_its_own_route(web):
    r = web.post(Q + ":pause", json={})
    assert r.status_code == 200 and r.get_json() == {"name": "projects/p/locations/l/queues/q", "state": "PAUSED"}


def test_a_name_matching_no_pattern_is_404(web):
    expect_v2_error(web.get("/v2/projects/p"), 404, "NOT_FOUND")
    expect_v2_error(web.get(Q + "/tasks/t1/extra"), 404, "NOT_FOUND")


def test_an_empty_service_path_is_not_mounted_twice(web):
    assert web.get("/v2/projects/p/locations/l").status_code == 200
    assert web.get("/projects/p/locations/l").status_code == 404


def test_formats_reach_the_handler_typed_and_go_back_as_google_writes_them(web):
    task = {"scheduleTime": "2030-01-01T01:00:00.5+01:00", "dispatchDeadline": "900.500s", "port": "8080",
            "httpRequest": {"httpMethod": "GET", "body": "gARoZWxsbw==", "headers": {"a": "b"}}}
    r = web.post(Q + "/tasks", json={"task": task})
    body = r.get_json()
    assert r.status_code == 200, body
    assert body["seen"] == ("dispatchDeadline=int,httpRequest=dict,httpRequest.body=bytes,httpRequest.headers=dict,"
                            "httpRequest.httpMethod=str,port=int,scheduleTime=int")
    assert body["scheduleTime"] == "2030-01-01T00:00:00.500Z"
    assert body["dispatchDeadline"] == "900.500s"
    assert body["port"] == "8080"  # int64 back as a JSON string, as the module asks
    assert body["httpRequest"] == {"httpMethod": "GET", "body": "gARoZWxsbw==", "headers": {"a": "b"}}


def test_enums_are_taken_by_number_as_protobuf_json_sends_them(web):
    r = web.post(Q + "/tasks", json={"task": {"httpRequest": {"httpMethod": 2}}, "responseView": 2})
    assert r.get_json()["httpRequest"]["httpMethod"] == "GET" and r.get_json()["view"] == "FULL"
    assert web.get(Q + "/tasks/t?responseView=2").get_json()["view"] == "FULL"
    expect_v2_error(web.get(Q + "/tasks/t?responseView=7"), 400, "INVALID_ARGUMENT", "responseView")


def test_enum_encoding_int_answers_enums_as_numbers(web):
    r = web.get(Q + "?%24alt=json%3Benum-encoding%3Dint")
    assert r.get_json() == {"name": "projects/p/locations/l/queues/q", "state": 1,
                            "purgeTime": "2030-01-01T00:00:00.500Z",
                            "retryConfig": {"minBackoff": "0.100s", "maxAttempts": -1}}
    assert web.get(Q + "?$alt=json").get_json()["state"] == "RUNNING"
    assert web.get(Q + "?alt=json;enum-encoding=int").get_json()["state"] == 1


def test_a_field_mask_is_a_list_of_paths(web):
    r = web.patch(Q + "?updateMask=retryConfig.minBackoff%2Cstate", json={"retryConfig": {"minBackoff": "3.5s"}})
    assert r.get_json()["updated"] == ["retryConfig.minBackoff", "state"]
    assert r.get_json()["retryConfig"] == {"minBackoff": "3.500s"}
    expect_v2_error(web.patch(Q + "?updateMask=a..b", json={}), 400, "INVALID_ARGUMENT", "updateMask")


@pytest.mark.parametrize("field, value, why", [
    ("scheduleTime", "2030-01-01 00:00:00", "RFC 3339"),
    ("scheduleTime", "2030-02-30T00:00:00Z", "date and time"),
    ("dispatchDeadline", "10", "duration"),
    ("port", "eighty", "whole number"),
])
def test_a_malformed_typed_field_is_400_naming_it(web, field, value, why):
    error = expect_v2_error(web.post(Q + "/tasks", json={"task": {field: value}}), 400, "INVALID_ARGUMENT", why)
    assert field in error["message"]


def test_bad_base64_in_a_byte_field_is_400(web):
    expect_v2_error(web.post(Q + "/tasks", json={"task": {"httpRequest": {"body": "**"}}}), 400, "INVALID_ARGUMENT", "base64")


def test_an_api_answers_empty_results_as_it_says(web):
    r = web.delete(Q)
    assert r.status_code == 200 and r.get_json() == {}


def test_errors_use_the_v2_body_with_the_canonical_status(web):
    r = web.get(Q + "/tasks/t?responseView=7")
    assert r.status_code == 400
    assert r.get_json() == {"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [],
                                      "message": r.get_json()["error"]["message"]}}
    assert "responseView" in r.get_json()["error"]["message"]
    busy = web.delete("/v2/projects/p/locations/l/queues/busy").get_json()["error"]
    assert (busy["code"], busy["status"], busy["message"]) == (400, "FAILED_PRECONDITION", "The queue is busy")


def test_xgafv_1_adds_the_v1_errors_array_and_other_values_are_refused(web):
    error = web.delete("/v2/projects/p/locations/l/queues/busy?$.xgafv=1").get_json()["error"]
    assert error["status"] == "FAILED_PRECONDITION"
    assert error["errors"] == [{"domain": "global", "reason": "failedPrecondition", "message": "The queue is busy"}]
    assert "errors" not in web.delete("/v2/projects/p/locations/l/queues/busy?$.xgafv=2").get_json()["error"]
    bad = web.get(Q + "?$.xgafv=3")
    assert bad.status_code == 400 and "$.xgafv" in bad.get_json()["error"]["message"]


def test_an_unknown_path_or_verb_under_the_apis_prefix_answers_its_error_body(web):
    expect_v2_error(web.get("/v2/nowhere"), 404, "NOT_FOUND")
    assert web.put(Q).get_json()["error"]["status"] == "UNIMPLEMENTED"
    assert web.get("/elsewhere").get_json()["error"]["errors"][0]["reason"] == "notFound"


def test_two_methods_that_answer_the_same_urls_stop_start_up(tmp_path):
    folder = tmp_path / "ambiguous_api"
    shutil.copytree(FIXTURE, folder)
    doc = json.loads((folder / "tasky_v2.api").read_text())
    queues = doc["resources"]["projects"]["resources"]["locations"]["resources"]["queues"]["methods"]
    del queues["get"]["parameters"]["name"]["pattern"]
    doc["resources"]["projects"]["resources"]["locations"]["methods"]["get"]["parameters"]["name"].pop("pattern")
    (folder / "tasky_v2.api").write_text(json.dumps(doc))
    settings = Settings(redis_url="redis://unused", served_apis=(str(folder / "tasky_v2.api"),), log_level="WARNING")
    with pytest.raises(DocumentError, match="both answer GET"):
        create_app(settings, redis_client=fakeredis.FakeRedis())
