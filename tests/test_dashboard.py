"""The dashboard in a real browser (Debian's Chromium driven by Playwright), checked through the Google API."""

from __future__ import annotations

import base64
import shutil
import time
import uuid

import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from harness.servers import gunicorn_on

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PROJECT = "s~dash-app"


@pytest.fixture(scope="module")
def server(redis_server):
    """gunicorn with dead letters after one lease, so the dead-letter actions can be shown."""
    web = gunicorn_on(redis_server, 4, DEFAULT_MAX_LEASES="1")
    yield web
    web.stop()


@pytest.fixture(scope="module")
def api(server):
    return build("taskqueue", "v1beta2", static_discovery=False,
                 discoveryServiceUrl=server.url + "/discovery/v1/apis/{api}/{apiVersion}/rest")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()


@pytest.fixture
def queue():
    return "dash-" + uuid.uuid4().hex[:8]


def insert(api, queue, payload=b"job", **fields):
    body = {"payloadBase64": base64.b64encode(payload).decode(), **fields}
    return api.tasks().insert(project=PROJECT, taskqueue=queue, body=body).execute()


def lease(api, queue, num=10, secs=600):
    return api.tasks().lease(project=PROJECT, taskqueue=queue, numTasks=num, leaseSecs=secs).execute().get("items", [])


def test_overview_lists_queues_and_refreshes_itself(server, api, page, queue):
    insert(api, queue)
    page.goto(server.url + "/dashboard/")
    row = page.locator(f'tr[data-queue="dash-app/{queue}"]')
    assert row.locator('[data-field="available"]').inner_text() == "1"
    insert(api, queue)
    insert(api, queue)
    lease(api, queue, num=1)
    page.wait_for_function(
        f"""document.querySelector('tr[data-queue="dash-app/{queue}"] [data-field="available"]').textContent == "2" """)
    assert row.locator('[data-field="leased"]').inner_text() == "1"


def test_queue_page_filters_by_state_and_tag(server, api, page, queue):
    for i in range(4):
        insert(api, queue, id=f"t{i}", tag="pdf" if i % 2 else "png")
    lease(api, queue, num=1)
    page.goto(f"{server.url}/dashboard/q/dash-app/{queue}")
    assert page.locator("#tasks tbody tr").count() == 4
    page.click("nav.tabs >> text=leased")
    assert page.locator("#tasks tbody tr").all_inner_texts()[0].startswith("t0")
    assert page.locator("#tasks tbody tr").count() == 1
    page.click("nav.tabs >> text=all")
    page.fill('input[name="tag"][placeholder="filter by tag"]', "pdf")
    page.click("form.tagfilter button")
    assert sorted(r.split()[0] for r in page.locator("#tasks tbody tr").all_inner_texts()) == ["t1", "t3"]


def test_insert_from_the_form(server, api, page, queue):
    page.goto(f"{server.url}/dashboard/q/dash-app/{queue}")
    page.fill('form.insert input[name="payload"]', '{"from": "form"}')
    page.fill('form.insert input[name="tag"]', "manual")
    page.fill('form.insert input[name="id"]', "typed-in")
    page.click("form.insert button")
    page.wait_for_selector(".notice.ok")
    task = api.tasks().get(project=PROJECT, taskqueue=queue, task="typed-in").execute()
    assert base64.b64decode(task["payloadBase64"]) == b'{"from": "form"}' and task["tag"] == "manual"


def test_release_and_delete_buttons(server, api, page, queue):
    insert(api, queue, id="held")
    insert(api, queue, id="doomed")
    lease(api, queue, num=1)
    page.goto(f"{server.url}/dashboard/q/dash-app/{queue}?state=leased")
    page.click('tr[data-task="held"] >> text=Release')
    page.wait_for_selector(".notice.ok")
    held = api.tasks().get(project=PROJECT, taskqueue=queue, task="held").execute()
    assert int(held["leaseTimestamp"]) <= time.time() * 1e6
    page.goto(f"{server.url}/dashboard/q/dash-app/{queue}")
    page.click('tr[data-task="doomed"] >> text=Delete')
    page.wait_for_selector(".notice.ok")
    with pytest.raises(HttpError) as info:
        api.tasks().get(project=PROJECT, taskqueue=queue, task="doomed").execute()
    assert info.value.resp.status == 404


def test_dead_letter_history_and_requeue(server, api, page, queue):
    insert(api, queue, b"\x00\x01binary", id="flaky")
    lease(api, queue, secs=0)
    assert lease(api, queue, secs=0) == []  # the second lease sets it aside
    page.goto(f"{server.url}/dashboard/q/dash-app/{queue}?state=dead")
    page.click('tr[data-task="flaky"] a')
    history = page.locator("#history").inner_text()
    assert "dead lettered" in history and "leased" in history and "inserted" in history
    assert "00000000  00 01 62 69" in page.locator("#payload").inner_text()
    page.click("text=Requeue")
    page.wait_for_selector(".notice.ok")
    assert [t["id"] for t in lease(api, queue)] == ["flaky"]


def test_requeue_all_dead_letters(server, api, page, queue):
    for name in ("d1", "d2"):
        insert(api, queue, id=name)
    lease(api, queue, secs=0)
    lease(api, queue, secs=0)
    page.goto(f"{server.url}/dashboard/q/dash-app/{queue}")
    page.click("text=Requeue dead letters")
    page.wait_for_selector(".notice.ok")
    assert sorted(t["id"] for t in lease(api, queue)) == ["d1", "d2"]


def test_purge_with_progress(server, api, page, queue, tmp_path):
    for i in range(12):
        insert(api, queue, id=f"p{i}")
    page.goto(f"{server.url}/dashboard/q/dash-app/{queue}")
    page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
    assert (tmp_path / "queue.png").stat().st_size > 10_000
    page.click("#purge")
    page.wait_for_selector(".notice.ok")
    stats = api.taskqueues().get(project=PROJECT, taskqueue=queue, getStats=True).execute()["stats"]
    assert stats["totalTasks"] == 0


def test_redis_outage_shows_html_errors_and_a_stale_badge(browser):
    """The badge turns stale while refreshes fail and live again after; pages answer HTML 503."""
    import requests

    from harness.servers import GunicornServer, RedisServer

    redis_server = RedisServer().start()
    restarted = None
    web = GunicornServer({"REDIS_URL": redis_server.url, "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING",
                          "REDIS_TIMEOUT_SECS": "0.5"}).start()
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(web.url + "/dashboard/")
        page.wait_for_selector("#live:not([hidden])")
        assert page.locator("#live").inner_text() == "live"
        redis_server.kill()
        page.wait_for_selector("#live.stale")
        assert "503" in page.locator("#live").get_attribute("title")
        r = requests.get(web.url + "/dashboard/", timeout=10)
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html")
        assert "unavailable" in r.text
        r = requests.post(web.url + "/dashboard/q/app/q/insert", data={"payload": "x"}, timeout=10)
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html")
        restarted = RedisServer(port=redis_server.port).start()  # the same port: the service resumes by itself
        page.wait_for_selector("#live:not(.stale)")
        assert page.locator("#live").inner_text() == "live"
    finally:
        context.close()
        web.stop()
        redis_server.stop()
        if restarted:
            restarted.stop()


def test_a_push_queue_is_seen_paused_resumed_and_its_finished_task_shown(server, page, queue):
    """Cloud Tasks queues in the browser: settings and counts, pause and resume buttons, a task run
    now, and the finished task with its attempts (the target refuses connections: no answer)."""
    import requests

    parent = "projects/dash-push/locations/here"
    name = f"{parent}/queues/{queue}"
    requests.post(f"{server.url}/v2/{parent}/queues", timeout=10, json={
        "name": name, "rateLimits": {"maxDispatchesPerSecond": 7}, "retryConfig": {"maxAttempts": 1}}).raise_for_status()
    requests.post(f"{server.url}/v2/{name}:pause", json={}, timeout=10).raise_for_status()
    requests.post(f"{server.url}/v2/{name}/tasks", timeout=10, json={"task": {
        "name": f"{name}/tasks/nowhere", "httpRequest": {"url": "http://127.0.0.1:9/hook", "body": "eyJhIjogMX0="}}}
                  ).raise_for_status()

    page.goto(f"{server.url}/dashboard/")
    page.click(f"#push-queues >> text=here:{queue}")
    assert page.locator("#queue-state").inner_text() == "PAUSED"
    assert "7/s" in page.locator("#settings").inner_text() and "1 attempt," in page.locator("#settings").inner_text()
    assert page.locator('#counts b[data-field="scheduled"]').inner_text() == "1"
    page.click('tr[data-task="nowhere"] >> text=Run now')   # paused: only a run sends it
    page.wait_for_selector(".notice.ok")
    page.goto(f"{server.url}/dashboard/q/dash-push/here:{queue}?api=cloudtasks&state=finished")
    page.wait_for_selector('tr[data-task="nowhere"]')
    page.click('tr[data-task="nowhere"] a')
    assert "dropped" in page.locator("h1").inner_text()
    assert "no answer" in page.locator("#attempts").inner_text()
    assert '"a": 1' in page.locator("#payload").inner_text()

    page.goto(f"{server.url}/dashboard/q/dash-push/here:{queue}?api=cloudtasks")
    page.click("text=Resume queue")
    page.wait_for_selector(".notice.ok")
    assert page.locator("#queue-state").inner_text() == "RUNNING"
    page.click("text=Pause queue")
    page.wait_for_selector(".notice.ok")
    assert requests.get(f"{server.url}/v2/{name}", timeout=10).json()["state"] == "PAUSED"
