"""The bench's /health probe runs in a process of its own and reports what it saw."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    probe = HealthProbe(f"http://127.0.0.1:{server.server_address[1]}")
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
