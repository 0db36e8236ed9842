"""Slow clients for the tests and the benchmark: raw sockets that trickle a request head or body,
or stay idle, while ordinary requests are timed."""

from __future__ import annotations

import socket
import threading
import time

import requests


class SlowClients:
    """`count` connections to 127.0.0.1:`port`: a quarter trickle headers, a quarter trickle a body,
    half stay idle. Trickling sends one byte every `interval` seconds until `stop()`."""

    def __init__(self, port: int, count: int = 64, interval: float = 0.5):
        self.port, self.count, self.interval = port, count, interval
        self.socks = []
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        for i in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            kind = i % 4
            if kind == 0:  # a request head that never ends
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            elif kind == 1:  # a body that never ends
                sock.sendall(b"POST /taskqueue/v1beta2/projects/app/taskqueues/slow/tasks HTTP/1.1\r\n"
                             b"Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
            self.socks.append((kind, sock))
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()
        return self

    def _trickle(self):
        while not self._stop.wait(self.interval):
            for kind, sock in self.socks:
                if kind in (0, 1):
                    try:
                        sock.send(b"a")
                    except OSError:
                        pass

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        for _, sock in self.socks:
            sock.close()


def ordinary_latencies(url: str, calls: int = 20, timeout: float = 30.0) -> list:
    """Seconds taken by `calls` ordinary requests (an insert, then a GET), each on a new connection."""
    times = []
    base = url + "/taskqueue/v1beta2/projects/app/taskqueues/fast/tasks"
    for i in range(calls):
        started = time.perf_counter()
        if i % 2:
            requests.get(base, timeout=timeout).raise_for_status()
        else:
            requests.post(base, json={"payloadBase64": "aGk="}, timeout=timeout).raise_for_status()
        times.append(time.perf_counter() - started)
    return times
