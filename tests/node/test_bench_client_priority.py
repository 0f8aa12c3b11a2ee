"""``bench --attack`` runs its attacker at a lower CPU priority, as if on another host; lowering
a client never touches the priority of the session it was started from (the bench's, the
operator's shell)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from node.bench import client_priority
from node.bench.cluster import BenchArgs
from node.bench.under_attack import attacker_nice

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


def _above_own(nice: int) -> int:
    """``nice`` or, when the tests themselves run niced, a value above theirs (raising a nice
    value is always allowed; lowering it needs root)."""
    return min(19, max(nice, os.getpriority(os.PRIO_PROCESS, 0) + 1))


def test_a_lowered_client_is_niced_in_a_session_group_of_its_own() -> None:
    own_nice, own_group = os.getpriority(os.PRIO_PROCESS, 0), client_priority.read_autogroup_nice()
    target = _above_own(NICE)
    seen = _run_python(_LOWER_THEN_REPORT, str(target))
    assert seen["nice"] == target
    if client_priority.is_autogroup_enabled():
        # The CPU is shared between session groups first: the client's group is lowered too,
        # and it is the client's own group, not this (the starting) process's.
        assert seen["session_leader"] is True
        assert seen["group"] == target
    assert client_priority.read_autogroup_nice() == own_group
    assert os.getpriority(os.PRIO_PROCESS, 0) == own_nice


def test_the_attacker_lowers_itself_as_its_plan_says(tmp_path: Path) -> None:
    plan, stop, out = tmp_path / "plan.json", tmp_path / "stop", tmp_path / "out.json"
    target = _above_own(NICE)
    plan.write_text(json.dumps({"chain_id": "c", "urls": [], "kinds": [], "nice": target}))
    stop.touch()  # no attack to run: it lowers itself, signs nothing, stops and reports
    files = ["--ready", str(tmp_path / "ready"), "--stop", str(stop), "--out", str(out)]
    command = [sys.executable, "-m", "node.bench.attack", "--plan", str(plan), *files]
    subprocess.run(command, check=True, timeout=120, capture_output=True)
    assert json.loads(out.read_text())["priority"].startswith(f"nice {target}")


def test_bench_attack_niceness_is_on_unless_asked_off() -> None:
    args = BenchArgs(validators=4, duration_s=1.0, rate=None, json_output=False, base_port=1)
    assert attacker_nice(args) == client_priority.CLIENT_NICE
    same = BenchArgs(4, 1.0, None, False, 1, attacker_same_priority=True)
    assert attacker_nice(same) is None
    assert client_priority.lower_priority_if_asked(None) == "normal priority (not lowered)"
