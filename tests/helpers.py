"""Small helpers shared by the API tests."""

from __future__ import annotations

import base64
import json

import pytest
from googleapiclient.errors import HttpError

PROJECT = "s~test-app"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def insert(api, queue, payload=b"payload", project=PROJECT, **fields):
    body = {"queueName": queue, "payloadBase64": b64(payload), **fields}
    return api.tasks().insert(project=project, taskqueue=queue, body=body).execute()


def lease(api, queue, num=10, secs=60, project=PROJECT, **kw):
    return api.tasks().lease(project=project, taskqueue=queue, numTasks=num, leaseSecs=secs,
                             **kw).execute().get("items", [])


def error_of(exc: HttpError) -> dict:
    return json.loads(exc.content)["error"]


def expect_error(call, status: int, reason: str, message_part: str = ""):
    """Run a googleapiclient request; assert Google's error format, status, reason, message."""
    with pytest.raises(HttpError) as info:
        call.execute()
    error = error_of(info.value)
    assert info.value.resp.status == status
    assert error["code"] == status
    assert error["errors"][0]["reason"] == reason
    assert error["errors"][0]["domain"] == "global"
    assert message_part in error["message"]
    return error


def expect_json_error(response, status: int, reason: str, message_part: str = ""):
    """The same for a raw HTTP response (Flask test client or requests)."""
    assert response.status_code == status, response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert body["error"]["code"] == status
    assert body["error"]["errors"][0]["reason"] == reason
    assert message_part in body["error"]["message"]
    return body["error"]


def advance_clock(client, seconds: float) -> None:
    """Move the store's clock forward through the admin API (the Flask test client), instead of
    sleeping; on a Redis Cluster, where the clock cannot move, sleep after all."""
    import time

    r = client.post(f"/admin/v1/clock/advance?seconds={seconds}")
    if r.status_code == 400 and "Redis Cluster" in r.get_json()["error"]["message"]:
        time.sleep(seconds)
        return
    assert r.status_code == 200, r.get_data(as_text=True)


def methods_of(doc: dict) -> dict:
    """{method id: method} of a discovery document, nested resources included."""
    out = {}

    def walk(resources):
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                out[method["id"]] = method
            walk(resource.get("resources", {}))

    walk(doc["resources"])
    return out


def read_all(sock) -> bytes:
    """Everything a raw socket receives until the server closes it."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def tasks_client(url: str):
    """google-cloud-tasks over REST, pointed at a service as docs/clients.md says."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import tasks_v2

    return tasks_v2.CloudTasksClient(transport="rest", credentials=AnonymousCredentials(),
                                     client_options=ClientOptions(api_endpoint=url))
