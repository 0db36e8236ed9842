"""TaskQueue v1beta2 through googleapiclient against the in-process app, on both stores."""

from __future__ import annotations

import base64
import time

import pytest

from tests.helpers import PROJECT, advance_clock, b64, expect_error, insert, lease


# --- insert ------------------------------------------------------------------------------

def test_insert_answers_the_task_with_microsecond_timestamps_as_strings(api, queue):
    before = int(time.time() * 1e6)
    task = insert(api, queue, b"hello", tag="render")
    after = int(time.time() * 1e6)
    assert task["kind"] == "taskqueues#task"
    assert task["queueName"] == queue
    assert base64.b64decode(task["payloadBase64"]) == b"hello"
    assert isinstance(task["enqueueTimestamp"], str)
    assert before - 1_000_000 <= int(task["enqueueTimestamp"]) <= after + 1_000_000
    assert task["leaseTimestamp"] == "0"
    assert task["retry_count"] == 0
    assert task["tag"] == "render"


def test_insert_generates_a_valid_unique_id(api, queue):
    ids = {insert(api, queue)["id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(len(i) >= 16 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_insert_keeps_a_chosen_id(api, queue):
    assert insert(api, queue, id="my-task_1")["id"] == "my-task_1"


def test_insert_of_a_taken_name_is_409(api, queue):
    insert(api, queue, id="dup")
    call = api.tasks().insert(project=PROJECT, taskqueue=queue,
                              body={"id": "dup", "payloadBase64": b64(b"x")})
    expect_error(call, 409, "conflict", "dup")


def test_insert_without_payload_is_400_required(api, queue):
    call = api.tasks().insert(project=PROJECT, taskqueue=queue, body={"queueName": queue})
    expect_error(call, 400, "required", "payloadBase64")


def test_insert_with_invalid_base64_is_400(api, queue):
    call = api.tasks().insert(project=PROJECT, taskqueue=queue, body={"payloadBase64": "not base64!"})
    expect_error(call, 400, "invalid", "base64")


def test_insert_of_a_payload_over_1mb_is_413(api, queue):
    call = api.tasks().insert(project=PROJECT, taskqueue=queue,
                              body={"payloadBase64": b64(b"x" * (1024 * 1024 + 1))})
    expect_error(call, 413, "payloadTooLarge", "1048576")


def test_insert_of_a_1mb_payload_round_trips(api, queue):
    payload = bytes(range(256)) * 4096
    task = insert(api, queue, payload)
    got = api.tasks().get(project=PROJECT, taskqueue=queue, task=task["id"]).execute()
    assert base64.b64decode(got["payloadBase64"]) == payload


def test_urlsafe_payload_is_answered_urlsafe(api, queue):
    raw = b"\xfb\xff\xfe" * 10
    body = {"payloadBase64": base64.urlsafe_b64encode(raw).decode()}
    task = api.tasks().insert(project=PROJECT, taskqueue=queue, body=body).execute()
    assert "-" in task["payloadBase64"] or "_" in task["payloadBase64"]
    assert base64.urlsafe_b64decode(task["payloadBase64"]) == raw
    leased = lease(api, queue)
    assert base64.urlsafe_b64decode(leased[0]["payloadBase64"]) == raw


def test_standard_payload_is_answered_standard(api, queue):
    raw = b"\xfb\xff\xfe" * 10
    task = insert(api, queue, raw)
    assert "+" in task["payloadBase64"] or "/" in task["payloadBase64"]


def test_insert_with_an_invalid_task_name_is_400(api, queue):
    call = api.tasks().insert(project=PROJECT, taskqueue=queue,
                              body={"id": "bad name{}", "payloadBase64": b64(b"x")})
    expect_error(call, 400, "invalid", "task name")


def test_insert_with_a_tag_over_500_bytes_is_400(api, queue):
    call = api.tasks().insert(project=PROJECT, taskqueue=queue,
                              body={"tag": "é" * 251, "payloadBase64": b64(b"x")})
    expect_error(call, 400, "invalid", "500")


def test_insert_with_a_non_numeric_lease_timestamp_is_400(api, queue):
    call = api.tasks().insert(project=PROJECT, taskqueue=queue,
                              body={"leaseTimestamp": "soon", "payloadBase64": b64(b"x")})
    expect_error(call, 400, "invalid", "leaseTimestamp")


def test_insert_with_another_queue_name_in_the_body_is_400(api, queue):
    call = api.tasks().insert(project=PROJECT, taskqueue=queue,
                              body={"queueName": "other", "payloadBase64": b64(b"x")})
    expect_error(call, 400, "invalid", "queueName")


def test_delayed_task_is_not_leased_before_its_time(api, queue):
    eta = int(time.time() * 1e6) + 3_600_000_000
    task = insert(api, queue, leaseTimestamp=str(eta))
    assert task["leaseTimestamp"] == str(eta)
    assert lease(api, queue) == []


def test_insert_with_lease_timestamp_in_the_past_is_available_now(api, queue):
    insert(api, queue, id="early", leaseTimestamp=1_000_000)
    assert [t["id"] for t in lease(api, queue)] == ["early"]


# --- get, list, delete -------------------------------------------------------------------

def test_get_answers_the_stored_task(api, queue):
    task = insert(api, queue, b"abc", tag="t")
    got = api.tasks().get(project=PROJECT, taskqueue=queue, task=task["id"]).execute()
    assert got == task


def test_get_of_an_unknown_task_is_404(api, queue):
    expect_error(api.tasks().get(project=PROJECT, taskqueue=queue, task="nope"), 404, "notFound", "nope")


def test_get_with_an_invalid_task_name_is_400(api, queue):
    expect_error(api.tasks().get(project=PROJECT, taskqueue=queue, task="a:b"), 400, "invalid")


def test_partition_prefixes_name_one_project(api, queue):
    task = insert(api, queue, project="b~render")
    for project in ("render", "s~render", "e~render"):
        got = api.tasks().get(project=project, taskqueue=queue, task=task["id"]).execute()
        assert got["id"] == task["id"]


def test_list_answers_tasks_in_enqueue_order_without_payloads(api, queue):
    names = [insert(api, queue, id=f"t{i}")["id"] for i in range(3)]
    listed = api.tasks().list(project=PROJECT, taskqueue=queue).execute()
    assert listed["kind"] == "taskqueues#tasks"
    assert [t["id"] for t in listed["items"]] == names
    assert all("payloadBase64" not in t for t in listed["items"])


def test_list_of_an_empty_queue_has_no_items_key(api, queue):
    listed = api.tasks().list(project=PROJECT, taskqueue=queue).execute()
    assert listed == {"kind": "taskqueues#tasks"}


def test_delete_removes_the_task_for_good(api, queue):
    task = insert(api, queue)
    assert api.tasks().delete(project=PROJECT, taskqueue=queue, task=task["id"]).execute() == ""
    expect_error(api.tasks().get(project=PROJECT, taskqueue=queue, task=task["id"]), 404, "notFound")
    assert lease(api, queue) == []


def test_delete_of_an_unknown_task_is_404(api, queue):
    expect_error(api.tasks().delete(project=PROJECT, taskqueue=queue, task="gone"), 404, "notFound")


def test_delete_is_allowed_after_the_lease_expired(api, client, queue):
    insert(api, queue, id="slow")
    lease(api, queue, secs=60)
    advance_clock(client, 61)
    api.tasks().delete(project=PROJECT, taskqueue=queue, task="slow").execute()
    expect_error(api.tasks().get(project=PROJECT, taskqueue=queue, task="slow"), 404, "notFound")


def test_a_deleted_name_is_tombstoned_against_insert(api, queue):
    insert(api, queue, id="again")
    api.tasks().delete(project=PROJECT, taskqueue=queue, task="again").execute()
    call = api.tasks().insert(project=PROJECT, taskqueue=queue,
                              body={"id": "again", "payloadBase64": b64(b"x")})
    expect_error(call, 409, "conflict", "tombstoned")


def test_a_second_delete_of_a_name_is_400_task_name_is_invalid(api, queue):
    insert(api, queue, id="twice")
    api.tasks().delete(project=PROJECT, taskqueue=queue, task="twice").execute()
    call = api.tasks().delete(project=PROJECT, taskqueue=queue, task="twice")
    expect_error(call, 400, "invalid", "task name is invalid")


# --- lease -------------------------------------------------------------------------------

def test_lease_answers_tasks_kind_with_payloads_and_lease_time(api, queue):
    insert(api, queue, b"work")
    before = int(time.time() * 1e6)
    answer = api.tasks().lease(project=PROJECT, taskqueue=queue, numTasks=1, leaseSecs=300).execute()
    assert answer["kind"] == "taskqueue#tasks"
    (task,) = answer["items"]
    assert base64.b64decode(task["payloadBase64"]) == b"work"
    assert task["retry_count"] == 1
    assert abs(int(task["leaseTimestamp"]) - (before + 300_000_000)) < 5_000_000


def test_lease_takes_oldest_first_and_at_most_num_tasks(api, queue):
    names = [insert(api, queue, id=f"n{i}")["id"] for i in range(5)]
    assert [t["id"] for t in lease(api, queue, num=3)] == names[:3]
    assert [t["id"] for t in lease(api, queue, num=3)] == names[3:]
    assert lease(api, queue) == []


def test_same_availability_time_goes_in_enqueue_order(api, queue):
    eta = str(int(time.time() * 1e6) - 1_000_000)
    for name in ("zeta", "alpha", "mid"):
        insert(api, queue, id=name, leaseTimestamp=eta)
    assert [t["id"] for t in lease(api, queue)] == ["zeta", "alpha", "mid"]


def test_a_leased_task_is_not_leased_again_until_the_lease_expires(api, client, queue):
    insert(api, queue, id="once")
    assert len(lease(api, queue, secs=1)) == 1
    assert lease(api, queue) == []
    advance_clock(client, 2)
    again = lease(api, queue)
    assert [t["id"] for t in again] == ["once"]
    assert again[0]["retry_count"] == 2


def test_lease_by_tag_takes_only_that_tag(api, queue):
    insert(api, queue, id="a1", tag="a")
    insert(api, queue, id="b1", tag="b")
    insert(api, queue, id="a2", tag="a")
    got = lease(api, queue, groupByTag=True, tag="b")
    assert [t["id"] for t in got] == ["b1"]


def test_group_by_tag_without_tag_takes_the_first_tasks_tag(api, queue):
    insert(api, queue, id="x1", tag="x")
    insert(api, queue, id="y1", tag="y")
    insert(api, queue, id="x2", tag="x")
    got = lease(api, queue, groupByTag=True)
    assert [t["id"] for t in got] == ["x1", "x2"]


def test_group_by_tag_when_the_first_task_is_untagged_takes_untagged_tasks(api, queue):
    insert(api, queue, id="u1")
    insert(api, queue, id="t1", tag="t")
    insert(api, queue, id="u2")
    assert [t["id"] for t in lease(api, queue, groupByTag=True)] == ["u1", "u2"]


def test_tag_without_group_by_tag_is_400(api, queue):
    call = api.tasks().lease(project=PROJECT, taskqueue=queue, numTasks=1, leaseSecs=1, tag="x")
    expect_error(call, 400, "invalid", "groupByTag")


@pytest.mark.parametrize("num,secs,where", [(0, 10, "numTasks"), (1001, 10, "numTasks"),
                                            (1, 604801, "leaseSecs"), (1, -1, "leaseSecs")])
def test_lease_limits_are_400(api, queue, num, secs, where):
    call = api.tasks().lease(project=PROJECT, taskqueue=queue, numTasks=num, leaseSecs=secs)
    error = expect_error(call, 400, "invalid", where)
    assert error["errors"][0]["location"] == where


def test_lease_of_an_empty_queue_has_no_items_key(api, queue):
    answer = api.tasks().lease(project=PROJECT, taskqueue=queue, numTasks=5, leaseSecs=60).execute()
    assert answer == {"kind": "taskqueue#tasks"}


# --- update and patch --------------------------------------------------------------------

def test_update_extends_the_lease_from_now(api, queue):
    insert(api, queue, id="u")
    (task,) = lease(api, queue, secs=10)
    before = int(time.time() * 1e6)
    updated = api.tasks().update(project=PROJECT, taskqueue=queue, task="u", newLeaseSeconds=600,
                                 body=task).execute()
    assert abs(int(updated["leaseTimestamp"]) - (before + 600_000_000)) < 5_000_000
    assert updated["retry_count"] == 1


def test_update_with_zero_seconds_releases_the_task_at_once(api, queue):
    insert(api, queue, id="r")
    (task,) = lease(api, queue, secs=600)
    api.tasks().update(project=PROJECT, taskqueue=queue, task="r", newLeaseSeconds=0, body=task).execute()
    assert [t["id"] for t in lease(api, queue)] == ["r"]


def test_patch_with_only_queue_name_hands_a_task_back(api, client, queue):
    insert(api, queue, id="p")
    lease(api, queue, secs=600)
    api.tasks().patch(project=PROJECT, taskqueue=queue, task="p", newLeaseSeconds=1,
                      body={"queueName": queue}).execute()
    advance_clock(client, 2)
    assert [t["id"] for t in lease(api, queue)] == ["p"]


def test_update_after_the_lease_expired_is_refused(api, client, queue):
    insert(api, queue, id="late")
    (task,) = lease(api, queue, secs=1)
    advance_clock(client, 2)
    call = api.tasks().update(project=PROJECT, taskqueue=queue, task="late", newLeaseSeconds=60, body=task)
    expect_error(call, 400, "failedPrecondition", "expired")


def test_update_with_a_stale_lease_timestamp_is_refused(api, client, queue):
    insert(api, queue, id="stale")
    (first,) = lease(api, queue, secs=1)
    advance_clock(client, 2)
    (second,) = lease(api, queue, secs=600)
    call = api.tasks().patch(project=PROJECT, taskqueue=queue, task="stale", newLeaseSeconds=0, body=first)
    expect_error(call, 400, "failedPrecondition", "another lease")
    assert lease(api, queue) == []
    held = api.tasks().get(project=PROJECT, taskqueue=queue, task="stale").execute()
    assert held["leaseTimestamp"] == second["leaseTimestamp"]


def test_update_of_a_task_never_leased_is_refused(api, queue):
    insert(api, queue, id="fresh")
    call = api.tasks().update(project=PROJECT, taskqueue=queue, task="fresh", newLeaseSeconds=60,
                              body={"queueName": queue})
    expect_error(call, 400, "failedPrecondition")


def test_update_of_an_unknown_task_is_404(api, queue):
    call = api.tasks().update(project=PROJECT, taskqueue=queue, task="ghost", newLeaseSeconds=60, body={})
    expect_error(call, 404, "notFound")


def test_update_with_a_negative_lease_is_400(api, queue):
    call = api.tasks().update(project=PROJECT, taskqueue=queue, task="x", newLeaseSeconds=-5, body={})
    expect_error(call, 400, "invalid", "newLeaseSeconds")


# --- taskqueues.get ----------------------------------------------------------------------

def test_taskqueue_get_without_stats(api, queue):
    got = api.taskqueues().get(project=PROJECT, taskqueue=queue).execute()
    assert got["kind"] == "taskqueues#taskqueue"
    assert got["id"] == f"projects/{PROJECT}/taskqueues/{queue}"
    assert "stats" not in got


def test_taskqueue_stats_count_tasks_and_leases(api, queue):
    first = insert(api, queue)
    insert(api, queue)
    insert(api, queue)
    lease(api, queue, num=2)
    stats = api.taskqueues().get(project=PROJECT, taskqueue=queue, getStats=True).execute()["stats"]
    assert stats["totalTasks"] == 3
    assert stats["oldestTask"] == str(int(first["enqueueTimestamp"]) // 1_000_000)
    assert 0 < int(stats["oldestTask"]) < time.time()
    assert stats["leasedLastMinute"] == "2"
    assert stats["leasedLastHour"] == "2"


def test_taskqueue_stats_of_an_empty_queue_are_zero(api, queue):
    stats = api.taskqueues().get(project=PROJECT, taskqueue=queue, getStats=True).execute()["stats"]
    assert stats == {"totalTasks": 0, "oldestTask": "0", "leasedLastMinute": "0", "leasedLastHour": "0"}


def test_invalid_queue_name_is_400(api):
    expect_error(api.taskqueues().get(project=PROJECT, taskqueue="bad_queue"), 400, "invalid", "queue name")


def test_invalid_project_is_400(api, queue):
    expect_error(api.taskqueues().get(project="~~", taskqueue=queue), 400, "invalid", "project")


# --- the render daemon's pattern ---------------------------------------------------------

def test_render_daemon_pattern(api, queue):
    """Write with b~name, read with name; lease 20 for 300 s by tag; hand back; delete on success."""
    for i in range(25):
        insert(api, queue, f"job {i}".encode(), project="b~render", tag="pdf" if i % 2 else "png")
    length = api.taskqueues().get(project="render", taskqueue=queue, getStats=True).execute()
    assert length["stats"]["totalTasks"] == 25
    batch = lease(api, queue, num=20, secs=300, project="render", groupByTag=True, tag="pdf")
    assert len(batch) == 12 and {t["tag"] for t in batch} == {"pdf"}
    failed, done = batch[0], batch[1:]
    assert failed["retry_count"] == 1
    api.tasks().patch(project="render", taskqueue=queue, task=failed["id"], newLeaseSeconds=1,
                      body={"queueName": queue}).execute()
    for task in done:
        api.tasks().delete(project="render", taskqueue=queue, task=task["id"]).execute()
    stats = api.taskqueues().get(project="render", taskqueue=queue, getStats=True).execute()["stats"]
    assert stats["totalTasks"] == 14


def test_unknown_field_selection_is_400(api, queue):
    call = api.tasks().list(project=PROJECT, taskqueue=queue, fields="items(nope)")
    expect_error(call, 400, "invalid", "nope")


def test_long_form_queue_name_must_name_this_project(api, queue):
    insert(api, queue, queueName=f"projects/test-app/taskqueues/{queue}")
    call = api.tasks().insert(project=PROJECT, taskqueue=queue,
                              body={"queueName": f"projects/other/taskqueues/{queue}", "payloadBase64": "aGk="})
    expect_error(call, 400, "invalid", "queueName")


@pytest.mark.parametrize("project", ["xy~app", "~app", "de~app", "s~"])
def test_a_prefix_that_is_not_a_partition_is_400(api, queue, project):
    expect_error(api.taskqueues().get(project=project, taskqueue=queue), 400, "invalid", "project")


def test_errors_honour_pretty_print_false(client, queue):
    r = client.get(f"/taskqueue/v1beta2/projects/app/taskqueues/{queue}/tasks/nope?prettyPrint=false")
    assert r.status_code == 404 and b"\n" not in r.data


def test_generated_names_never_start_like_a_command_line_option(api, queue):
    """A name such as `-x…` would be taken for an option by the CLI (and most tools)."""
    from queueservice.stores.pullqueue.rules import new_task_name

    names = [new_task_name() for _ in range(2000)]
    assert all(n[0].isalnum() and len(n) == 22 for n in names) and len(set(names)) == 2000
    assert insert(api, queue)["id"][0].isalnum()
