"""``depochain bench statesync`` end to end at a small size (real processes): accounts opened
by transactions are in the snapshot the empty node restores, its /status phases are reported,
and it ends on the validators' app hash. Nothing about speed is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.bench.statesync import StateSyncBenchArgs, run_bench

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACCOUNTS = 400
INTERVAL = 20


def test_an_empty_node_joins_the_grown_chain(tmp_path: Path) -> None:
    args = StateSyncBenchArgs(
        accounts=ACCOUNTS, blocks=2 * INTERVAL + 2, interval=INTERVAL, chunk_bytes=16 * 1024,
        timeout_commit_ms=100, base_port=48656, workdir=tmp_path, json_output=True,
        join_timeout_s=240,
    )  # fmt: skip
    figures = run_bench(args)
    assert figures["same_app_hash"] is True
    assert figures["accounts_restored"] >= ACCOUNTS  # the opened ones and genesis's
    assert figures["snapshot_height"] % INTERVAL == 0 and figures["snapshot_height"] > 0
    assert figures["chunks"] > 1
    assert "discovering" in figures["phases_first_seen_s"]
    assert figures["node_up_s"] >= figures["restore_s"] > 0
    assert figures["join_to_tip_s"] >= figures["node_up_s"]
    assert figures["live_blocks_per_s"] > 0 and figures["catch_up_blocks_per_s"] >= 0
