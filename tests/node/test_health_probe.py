"""The bench's /health probe runs in a process of its own and reports what it saw."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from node.bench.health_probe import HealthProbe

SERVER_DELAY_S = 0.05


class _SlowHealth(BaseHTTPRequestHandler):
    answered = 0

    def do_GET(self) -> None:
        time.sleep(SERVER_DELAY_S)
        type(self).answered += 1
        body = b"{}" if self.path == "/health" else b"no"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_the_probe_times_health_answers_from_a_child_process() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHealth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # The "node" is this process: its main thread stands in for the node's event loop.
    probe = HealthProbe(f"http://127.0.0.1:{server.server_address[1]}", node_pid=os.getpid())
    runner = threading.Thread(target=probe.run)
    runner.start()
    deadline = time.monotonic() + 60  # spawning the child is slow on a loaded machine
    while _SlowHealth.answered < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    probe.stop.set()
    runner.join(60)
    server.shutdown()
    assert not runner.is_alive()
    assert probe.latencies_s, "the child sent no latencies"
    assert all(latency >= SERVER_DELAY_S for latency in probe.latencies_s)
    # Linux tells each probe's own wait for a CPU: one figure per probe, never negative.
    assert len(probe.cpu_waits_s) == len(probe.latencies_s)
    assert all(wait >= 0.0 for wait in probe.cpu_waits_s)
    assert len(probe.node_cpu_waits_s) == len(probe.latencies_s)
    assert all(wait >= 0.0 for wait in probe.node_cpu_waits_s)


def test_the_slow_share_counts_only_answers_above_the_target() -> None:
    probe = HealthProbe("http://127.0.0.1:1")
    probe.latencies_s = [0.01, 0.3, 0.5]
    probe.cpu_waits_s = [0.01, 0.0, 0.1]
    probe.node_cpu_waits_s = [0.01, 0.2, 0.4]
    share = probe.slow_share()
    assert share["count"] == 2
    assert share["seconds"] == pytest.approx(0.8)
    assert share["node_cpu_wait_share"] == pytest.approx(0.75)
    assert share["probe_cpu_wait_share"] == pytest.approx(0.125)


def test_the_slow_share_is_unknown_without_per_probe_waits() -> None:
    probe = HealthProbe("http://127.0.0.1:1")
    probe.latencies_s = [0.3]
    assert probe.slow_share()["node_cpu_wait_share"] is None
