"""Times ``GET /health`` on one node from a process of its own.

The load generator's threads hold its GIL most of the time (batching, JSON, the watcher), so a
probe thread inside it measured its own wait for the GIL as much as the node: hundreds of
milliseconds that no other client of the node sees. In a separate process (stdlib only, so it
starts fast) the figure is the node's answer time plus the OS's scheduling, as for any client.
"""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from urllib.parse import urlsplit

INTERVAL_S = 0.1
TIMEOUT_S = 30.0
"""A probe that gets no answer counts as this long."""


def probe_until_stopped(url: str, stop: ProcessEvent, results: Connection) -> None:
    """The child's loop: one fresh connection per probe, a few probes a second."""
    parts = urlsplit(url)
    latencies: list[float] = []
    while not stop.is_set():
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection(
                parts.hostname or "127.0.0.1", parts.port or 80, timeout=TIMEOUT_S
            )
            conn.request("GET", "/health")
            conn.getresponse().read()
            conn.close()
            latencies.append(time.monotonic() - started)
        except (OSError, http.client.HTTPException):
            latencies.append(TIMEOUT_S)
        stop.wait(INTERVAL_S)
    results.send(latencies)
    results.close()


@dataclass
class HealthProbe:
    """Runs :func:`probe_until_stopped` in a child process until ``stop`` is set; its
    latencies are then in ``latencies_s``. ``run`` blocks, so give it a thread."""

    url: str
    latencies_s: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a threaded process
        receiver, sender = context.Pipe(duplex=False)
        child_stop = context.Event()
        child = context.Process(
            target=probe_until_stopped, args=(self.url, child_stop, sender), daemon=True
        )
        child.start()
        sender.close()
        self.stop.wait()
        child_stop.set()
        if receiver.poll(TIMEOUT_S + 5.0):
            self.latencies_s.extend(receiver.recv())
        child.join(5.0)
        if child.is_alive():
            child.kill()
