"""``depochain nemesis`` end to end: a real 4-node cluster under REST load, three faults (kill -9
and restart; SIGSTOP and SIGCONT; a torn WAL tail and a cut LevelDB log) with short phases. The
command must exit 0 and every phase must report 0 lost, 0 duplicated, 0 forks, conservation
held, a recovery, and no unclean exit; a check that fails makes this test fail (the command's
exit status and the JSON both say so)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUN_TIMEOUT_S = 900.0


def run_nemesis(tmp_path: Path, *args: str) -> tuple[int, dict[str, object], str]:
    argv = [sys.executable, "-m", "node.cli", "nemesis", *args, "--workdir",
            str(tmp_path / "run"), "--json"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"no JSON report (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return done.returncode, report, done.stderr


def test_kill_pause_and_a_damaged_store_keep_every_acknowledged_tx_and_the_chain_whole(
    tmp_path: Path,
) -> None:
    code, report, stderr = run_nemesis(
        tmp_path, "--faults", "kill,stop,wal", "--duration", "4", "--rate", "30"
    )
    phases = report["phases"]
    assert isinstance(phases, list)
    assert [phase["fault"] for phase in phases] == ["kill", "stop", "wal"]
    for phase in phases:
        assert phase["skipped"] is None, phase
        assert phase["acked"] > 0, phase  # the load ran and was acknowledged
        assert (phase["lost"], phase["duplicated"], phase["forks"]) == (0, 0, 0), phase
        assert phase["conservation_ok"] is True, phase
        assert phase["recovery_s"] is not None, phase
        assert phase["unclean_exits"] == 0, phase
        assert phase["problems"] == [], phase
        assert phase["ok"] is True, phase
    assert code == 0, stderr[-4000:]
