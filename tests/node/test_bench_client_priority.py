"""``bench --attack`` runs its clients (load generator, attacker) at a lower CPU priority, as if
on other hosts, while the ``/health`` probe they start returns to normal priority; lowering a
client never touches the priority of the session it was started from (the bench's, the
operator's shell)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from node.bench import client_priority
from node.bench.cluster import BenchArgs
from node.bench.under_attack import client_nice

NICE = 7

_LOWER_THEN_REPORT = """
import json, os, sys
from node.bench.client_priority import lower_priority, read_autogroup_nice
applied = lower_priority(int(sys.argv[1]))
print(json.dumps({
    "nice": os.getpriority(os.PRIO_PROCESS, 0),
    "group": read_autogroup_nice(),
    "session_leader": os.getsid(0) == os.getpid(),
    "applied": [applied.nice, applied.autogroup_nice, applied.note],
}))
"""


def _run_python(code: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_a_lowered_client_is_niced_in_a_session_group_of_its_own() -> None:
    own_group_before = client_priority.read_autogroup_nice()
    seen = _run_python(_LOWER_THEN_REPORT, str(NICE))
    assert seen["nice"] == NICE
    if client_priority.is_autogroup_enabled():
        # The CPU is shared between session groups first: the client's group is lowered too,
        # and it is the client's own group, not this (the starting) process's.
        assert seen["session_leader"] is True
        assert seen["group"] == NICE
    assert client_priority.read_autogroup_nice() == own_group_before
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0


_PROBE_FROM_A_LOW_CLIENT = """
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from node.bench.client_priority import lower_priority
from node.bench.health_probe import HealthProbe

class Health(BaseHTTPRequestHandler):
    answered = 0
    def do_GET(self):
        type(self).answered += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass

lower_priority(int(sys.argv[1]))  # as the load generator does, before any thread
server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
threading.Thread(target=server.serve_forever, daemon=True).start()
probe = HealthProbe(f"http://127.0.0.1:{server.server_address[1]}")
runner = threading.Thread(target=probe.run)
runner.start()
deadline = time.monotonic() + 60
while Health.answered < 1 and time.monotonic() < deadline:
    time.sleep(0.05)
probe.stop.set()
runner.join(60)
print(json.dumps({"probe": probe.priority, "answers": len(probe.latencies_s)}))
"""


def test_the_health_probe_started_by_a_low_client_runs_at_normal_priority() -> None:
    seen = _run_python(_PROBE_FROM_A_LOW_CLIENT, str(NICE))
    assert seen["answers"], "the probe sent no answers"
    probe = str(seen["probe"])
    if os.geteuid() == 0:  # returning to nice 0 needs root (or CAP_SYS_NICE)
        assert probe.startswith("nice 0"), probe
    else:
        assert probe.startswith("nice 0") or "could not return to nice 0" in probe, probe
    if client_priority.is_autogroup_enabled():
        assert ", its session group 0" in probe, probe


def test_the_attacker_lowers_itself_as_its_plan_says(tmp_path: Path) -> None:
    plan, stop, out = tmp_path / "plan.json", tmp_path / "stop", tmp_path / "out.json"
    plan.write_text(json.dumps({"chain_id": "c", "urls": [], "kinds": [], "client_nice": NICE}))
    stop.touch()  # no attack to run: it lowers itself, signs nothing, stops and reports
    command = [sys.executable, "-m", "node.bench.attack", "--plan", str(plan),
               "--ready", str(tmp_path / "ready"), "--stop", str(stop), "--out", str(out)]  # fmt: skip
    subprocess.run(command, check=True, timeout=120, capture_output=True)
    assert json.loads(out.read_text())["priority"].startswith(f"nice {NICE}")


def test_bench_attack_niceness_is_on_unless_asked_off() -> None:
    args = BenchArgs(validators=4, duration_s=1.0, rate=None, json_output=False, base_port=1)
    assert client_nice(args) == client_priority.CLIENT_NICE
    same = BenchArgs(4, 1.0, None, False, 1, clients_same_priority=True)
    assert client_nice(same) is None
    assert client_priority.lower_priority_if_asked(None) == "normal priority (not lowered)"
