"""Times ``GET /health`` on one node from a process of its own.

The load generator's threads hold its GIL most of the time (batching, JSON, the watcher), so a
probe thread inside it measured its own wait for the GIL as much as the node: hundreds of
milliseconds that no other client of the node sees. In a separate process (stdlib only, so it
starts fast) the figure is the node's answer time plus the OS's scheduling, as for any client.

Each probe also notes how long the probe process itself waited for a CPU while it ran (its
``run_delay`` in ``/proc/self/schedstat``): on a machine with more runnable processes than cores,
that part of a slow answer is the probe not being scheduled, not the node being slow.
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


SCHEDSTAT = "/proc/self/schedstat"


def cpu_wait_s(path: str = SCHEDSTAT) -> float | None:
    """Seconds this process has spent runnable but not running (None where not available)."""
    try:
        with open(path) as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def probe_until_stopped(url: str, stop: ProcessEvent, results: Connection) -> None:
    """The child's loop: one fresh connection per probe, a few probes a second."""
    parts = urlsplit(url)
    latencies: list[float] = []
    waits: list[float] = []
    while not stop.is_set():
        wait_before = cpu_wait_s()
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
        wait_after = cpu_wait_s()
        if wait_before is not None and wait_after is not None:
            waits.append(wait_after - wait_before)
        stop.wait(INTERVAL_S)
    results.send((latencies, waits))
    results.close()


@dataclass
class HealthProbe:
    """Runs :func:`probe_until_stopped` in a child process until ``stop`` is set; its
    latencies are then in ``latencies_s`` and, probe by probe where the OS tells, the probe's
    own wait for a CPU in ``cpu_waits_s``. ``run`` blocks, so give it a thread."""

    url: str
    latencies_s: list[float] = field(default_factory=list)
    cpu_waits_s: list[float] = field(default_factory=list)
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
            latencies, waits = receiver.recv()
            self.latencies_s.extend(latencies)
            self.cpu_waits_s.extend(waits)
        child.join(5.0)
        if child.is_alive():
            child.kill()
