"""Times ``GET /health`` on one node from a process of its own.

The load generator's threads hold its GIL most of the time (batching, JSON, the watcher), so a
probe thread inside it measured its own wait for the GIL as much as the node: hundreds of
milliseconds that no other client of the node sees. In a separate process (stdlib only, so it
starts fast) the figure is the node's answer time plus the OS's scheduling, as for any client.

Each probe also notes how long the probe process itself waited for a CPU while it ran (its
``run_delay`` in ``/proc/self/schedstat``): on a machine with more runnable processes than cores,
that part of a slow answer is the probe not being scheduled, not the node being slow. Given the
node's pid, it notes the same for the node's main thread (the event loop that answers): a slow
answer during which the loop sat runnable but off the CPU is the machine's saturation, not a
stall in the node's code.
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

SLOW_S = 0.1
"""Answers slower than this (the ``/health`` target) are the ones :meth:`HealthProbe.slow_share`
breaks down."""


SCHEDSTAT = "/proc/self/schedstat"


def cpu_wait_s(path: str = SCHEDSTAT) -> float | None:
    """Seconds this process has spent runnable but not running (None where not available)."""
    try:
        with open(path) as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _wait_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def probe_until_stopped(
    url: str, stop: ProcessEvent, results: Connection, node_pid: int | None = None
) -> None:
    """The child's loop: one fresh connection per probe, a few probes a second."""
    parts = urlsplit(url)
    node_stat = "" if node_pid is None else f"/proc/{node_pid}/schedstat"
    latencies: list[float] = []
    waits: list[float] = []
    node_waits: list[float] = []
    while not stop.is_set():
        wait_before = cpu_wait_s()
        node_before = cpu_wait_s(node_stat) if node_stat else None
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
        own = _wait_delta(wait_before, cpu_wait_s())
        if own is not None:
            waits.append(own)
        node = _wait_delta(node_before, cpu_wait_s(node_stat) if node_stat else None)
        if node is not None:
            node_waits.append(node)
        stop.wait(INTERVAL_S)
    results.send((latencies, waits, node_waits))
    results.close()


@dataclass
class HealthProbe:
    """Runs :func:`probe_until_stopped` in a child process until ``stop`` is set; its
    latencies are then in ``latencies_s`` and, probe by probe where the OS tells, the probe's
    own wait for a CPU in ``cpu_waits_s`` and, with ``node_pid``, the node's main thread's in
    ``node_cpu_waits_s``. ``run`` blocks, so give it a thread."""

    url: str
    node_pid: int | None = None
    latencies_s: list[float] = field(default_factory=list)
    cpu_waits_s: list[float] = field(default_factory=list)
    node_cpu_waits_s: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a threaded process
        receiver, sender = context.Pipe(duplex=False)
        child_stop = context.Event()
        child = context.Process(
            target=probe_until_stopped,
            args=(self.url, child_stop, sender, self.node_pid),
            daemon=True,
        )
        child.start()
        sender.close()
        self.stop.wait()
        child_stop.set()
        if receiver.poll(TIMEOUT_S + 5.0):
            latencies, waits, node_waits = receiver.recv()
            self.latencies_s.extend(latencies)
            self.cpu_waits_s.extend(waits)
            self.node_cpu_waits_s.extend(node_waits)
        child.join(5.0)
        if child.is_alive():
            child.kill()

    def slow_share(self) -> dict[str, float | int | None]:
        """Of the time spent in answers slower than :data:`SLOW_S`: the shares during which the
        node's loop thread and the probe itself were runnable but waiting for a CPU."""
        slow = [i for i, latency in enumerate(self.latencies_s) if latency > SLOW_S]
        total = sum(self.latencies_s[i] for i in slow)

        def share(waits: list[float]) -> float | None:
            if not slow or len(waits) != len(self.latencies_s):
                return None
            return sum(waits[i] for i in slow) / total

        return {
            "count": len(slow),
            "seconds": total,
            "node_cpu_wait_share": share(self.node_cpu_waits_s),
            "probe_cpu_wait_share": share(self.cpu_waits_s),
        }
