"""Take the README's dashboard screenshots: a render-style queue with leases and a dead letter.

    python -m docs.screenshots   (needs redis-server and Debian's chromium)
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from harness.servers import GunicornServer, RedisServer

OUT = Path(__file__).resolve().parent


def main():
    redis_server = RedisServer().start()
    web = GunicornServer({"REDIS_URL": redis_server.url, "DEFAULT_MAX_LEASES": "3", "LOG_LEVEL": "WARNING"}).start()
    try:
        base = web.url + "/taskqueue/v1beta2/projects/b~render/taskqueues/{}/tasks"
        with requests.Session() as s:
            for i in range(40):
                job = {"document": f"invoice-{1000 + i}.pdf", "pages": 1 + i % 7, "dpi": 300}
                s.post(base.format("render"), json={"payloadBase64": base64.b64encode(json.dumps(job).encode()).decode(),
                                                    "tag": "pdf" if i % 3 else "png"})
            for i in range(6):
                s.post(base.format("thumbnails"), json={"payloadBase64": base64.b64encode(b"\x89PNG\r\n" + bytes(range(40))).decode()})
            s.post(base.format("render"), json={"id": "broken-invoice", "payloadBase64": base64.b64encode(b'{"document": "broken.pdf"}').decode()})
            for _ in range(4):
                s.post(base.format("render") + "/lease", params={"numTasks": 1, "leaseSecs": 0, "groupByTag": "true", "tag": ""})
            s.post(base.format("render") + "/lease", params={"numTasks": 8, "leaseSecs": 300})
            s.post(base.format("render"), json={"id": "tomorrow", "payloadBase64": "e30=",
                                                "leaseTimestamp": str(int((time.time() + 86400) * 1e6))})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(web.url + "/dashboard/")
            page.screenshot(path=str(OUT / "dashboard-overview.png"))
            page.goto(web.url + "/dashboard/q/render/render")
            page.screenshot(path=str(OUT / "dashboard-queue.png"))
            page.goto(web.url + "/dashboard/q/render/render?state=dead")
            page.click("tbody tr a")
            page.screenshot(path=str(OUT / "dashboard-task.png"), full_page=True)
            browser.close()
    finally:
        web.stop()
        redis_server.stop()


if __name__ == "__main__":
    main()
