"""The push benchmarks' task handler: answers 200 at once and records when each task arrived.

    python -m bench.receiver --port 8123      # run alone; the benchmarks start it themselves

One asyncio process with a hand-written HTTP/1.1 parser (keep-alive, Content-Length bodies): a few
tens of µs per request, so it is never what limits a dispatcher (the benchmarks check that with wrk
and print its CPU). For each request it keeps (arrival time in ns since the epoch, task id, queue
id, ETA header), read from X-CloudTasks-* or X-AppEngine-* headers (a queue name is cut to its id). Control paths, not recorded:
`GET /__records?since=N` answers the records from the N-th on as JSON, `POST /__clear` forgets them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
OK_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nok"
NAME_HEADERS = (b"x-cloudtasks-taskname", b"x-appengine-taskname")
QUEUE_HEADERS = (b"x-cloudtasks-queuename", b"x-appengine-queuename")
ETA_HEADERS = (b"x-cloudtasks-tasketa", b"x-appengine-tasketa")

records: list = []


class Connection(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        buffer = self.buffer + data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            lines = buffer[:end].split(b"\r\n")
            length, name, queue, eta, close = 0, None, None, None, False
            for line in lines[1:]:
                key, _, value = line.partition(b":")
                key = key.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key in NAME_HEADERS:
                    name = value.strip().decode()
                elif key in QUEUE_HEADERS:  # an id; the peer emulator sends the whole queue name
                    queue = value.strip().decode().rsplit("/", 1)[-1]
                elif key in ETA_HEADERS:
                    eta = value.strip().decode()
                elif key == b"connection":
                    close = value.strip().lower() == b"close"
            if len(buffer) < end + 4 + length:
                break
            arrived = time.time_ns()
            request_line = lines[0].split(b" ")
            close = close or request_line[-1] == b"HTTP/1.0"
            buffer = buffer[end + 4 + length:]
            path = request_line[1] if len(request_line) > 1 else b"/"
            if path.startswith(b"/__"):
                self.control(path)
            else:
                records.append((arrived, name, queue, eta))
                self.transport.write(OK_CLOSE if close else OK)
            if close:
                self.transport.close()
                return
        self.buffer = buffer

    def control(self, path: bytes):
        if path.startswith(b"/__records"):
            since = int(path.partition(b"since=")[2] or 0)
            body = json.dumps({"total": len(records), "records": records[since:]}).encode()
        elif path.startswith(b"/__clear"):
            records.clear()
            body = b"{}"
        else:
            body = b'{"error": "unknown control path"}'
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)


async def serve(port: int):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, "127.0.0.1", port, backlog=1024, reuse_address=True)
    print(f"receiver: listening on http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


class Receiver:
    """The receiver as a child process of a benchmark, on a free port."""

    def __init__(self, port: int | None = None):
        if port is None:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        self.port = port
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Receiver":
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.receiver", "--port", str(self.port)],
                                     cwd=REPO, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the receiver did not start")

    def records(self, since: int = 0) -> list:
        """[(arrived_ns, task id, queue id, eta)] from the `since`-th on."""
        with urllib.request.urlopen(f"{self.url}/__records?since={since}", timeout=30) as answer:
            return [tuple(r) for r in json.loads(answer.read())["records"]]

    def count(self) -> int:
        with urllib.request.urlopen(f"{self.url}/__records?since=999999999999", timeout=30) as answer:
            return json.loads(answer.read())["total"]

    def clear(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/__clear", method="POST"), timeout=10).read()

    def wait_for(self, count: int, timeout: float) -> int:
        """Wait until `count` requests arrived in all (or `timeout` seconds); the count."""
        deadline = time.monotonic() + timeout
        got = self.count()
        while got < count and time.monotonic() < deadline:
            time.sleep(0.1)
            got = self.count()
        return got

    def capacity(self, seconds: int = 2, connections: int = 16) -> float | None:
        """Requests/s the receiver answers under wrk (None without wrk): far above any rate asked
        of a dispatcher, or the receiver would be the bottleneck."""
        import re
        import shutil

        if not shutil.which("wrk"):
            return None
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", self.url + "/capacity"],
                             capture_output=True, text=True, check=True).stdout
        self.clear()
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
